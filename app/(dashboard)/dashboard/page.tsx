// Dashboard: the signed-in wallet's own view: its payment-token balance, the asset tokens it holds with
// their earnings (all read from the chain, on the server), claims and share transfers. The session
// cookie says whose: no wallet code is needed to show it.
import type { Metadata } from "next";
import { connection } from "next/server";
import { EmptyState } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { ConnectWalletButton } from "@/components/web3/wallet-button";
import { currentSession } from "@/lib/auth/session";
import { WalletOverview } from "./_components/wallet-overview";

export const metadata: Metadata = { title: "Dashboard" };

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
        <WalletOverview session={session} />
      ) : (
        <EmptyState title="Sign in to see your dashboard" action={<ConnectWalletButton />}>
          Connect a wallet and sign the sign-in message (free, no transaction) to see the asset tokens you hold, what they earned and what you can claim.
        </EmptyState>
      )}
    </div>
  );
}
