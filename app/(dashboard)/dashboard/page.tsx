// Dashboard: the signed-in wallet's own view. Today: who is signed in and their payment-token balance,
// read from chain. Revenue shares, claimable earnings and receipts arrive with those features.
import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { WalletOverview } from "./_components/wallet-overview";

export const metadata: Metadata = { title: "Dashboard" };

export default function DashboardPage() {
  return (
    <div className="space-y-8">
      <PageHeader
        title="Dashboard"
        description="Your wallet on this marketplace. Shares you hold, revenue you can claim and your query receipts will be listed here as those features arrive."
      />
      <WalletOverview />
    </div>
  );
}
