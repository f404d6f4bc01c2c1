// Dashboard: the signed-in wallet's own view: its payment-token balance, the asset tokens it holds with
// their earnings (all read from the chain, on the server), claims and share transfers, and its API keys. The session
// cookie says whose: no wallet code is needed to show it.
import type { Metadata } from "next";
import { connection } from "next/server";
import { EmptyState } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { ConnectWalletButton } from "@/components/web3/wallet-button";
import { currentSession } from "@/lib/auth/session";
import { readPublicConfig } from "@/lib/chain/public-config";
import { readTokenInfo } from "@/lib/chain/token";
import { ApiKeys } from "./_components/api-keys";
import { WalletOverview } from "./_components/wallet-overview";

export const metadata: Metadata = { title: "Dashboard" };

/** The payment token as the API keys' caps are entered in; null when the chain cannot be read. */
async function apiKeyToken() {
  const token = readPublicConfig().contracts?.paymentToken;
  const info = token ? await readTokenInfo(token).catch(() => null) : null;
  return info ? { symbol: info.symbol, decimals: info.decimals } : null;
}

export default async function DashboardPage() {
  await connection();
  const session = await currentSession();
  return (
    <div className="space-y-8">
      <PageHeader
        title="Dashboard"
        description="The asset tokens your wallet holds, what each one earned from settled queries, and what you can claim now. Everything here is read from the chain."
      />
      {session ? (
        <>
          <WalletOverview session={session} />
          <ApiKeys token={await apiKeyToken()} />
        </>
      ) : (
        <EmptyState title="Sign in to see your dashboard" action={<ConnectWalletButton />}>
          Connect a wallet and sign the sign-in message (free, no transaction) to see the asset tokens you hold, what they earned and what you can claim.
        </EmptyState>
      )}
    </div>
  );
}
