// Chat with one app (appId = the app's Listing id): its prices are read from the chain on each visit.
import type { Metadata } from "next";
import Link from "next/link";
import { connection } from "next/server";
import type { Address } from "viem";
import { ChatScreen } from "@/components/chat/chat-screen";
import { Notice } from "@/components/ui/card";
import { readPublicConfig } from "@/lib/chain/public-config";
import { readTokenInfo } from "@/lib/chain/token";
import { chatModelHealth, loadChatApp } from "@/lib/chat/charges";
import { ChatError } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";

export const metadata: Metadata = { title: "Chat" };

export default async function ChatAppPage({ params }: { params: Promise<{ appId: string }> }) {
  await connection();
  const { appId } = await params;
  let problem = "";
  let view: Parameters<typeof ChatScreen>[0] | null = null;
  try {
    const chain = chatChain();
    const app = await loadChatApp(getDb(), chain, appId);
    const health = await chatModelHealth(getDb(), app, serverEnv().MODEL_PROBE_INTERVAL_MS);
    const tokenAddress = readPublicConfig().contracts!.paymentToken as Address;
    const token = await readTokenInfo(tokenAddress);
    if (!token) throw new ChatError("upstream_unavailable", "chain_unavailable", "The chain cannot be reached to read the payment token.");
    view = {
      app: {
        id: app.id,
        name: app.name,
        description: app.description,
        model: { id: app.model.listingId, name: app.model.name, offline: app.model.provider === "offline", health },
        datasets: app.datasets,
      },
      initialChargeSet: app.chargeSet,
      token: { symbol: token.symbol, decimals: token.decimals },
      tokenAddress,
    };
  } catch (error) {
    if (!(error instanceof ChatError)) console.error(error);
    problem = error instanceof ChatError ? error.message : "This app could not be loaded. See the server log.";
  }
  if (view) return <ChatScreen {...view} />;
  return (
    <div className="space-y-4">
      <Notice tone="warning">{problem}</Notice>
      <Link href="/chat" className="text-sm text-brand-700 underline">
        Back to the apps
      </Link>
    </div>
  );
}
