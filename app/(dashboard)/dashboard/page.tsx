// Dashboard: the signed-in wallet's own view: its payment-token balance, the asset tokens it holds with
// their earnings (all read from the chain), claims and share transfers.
import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { WalletOverview } from "./_components/wallet-overview";

export const metadata: Metadata = { title: "Dashboard" };

export default function DashboardPage() {
  return (
    <div className="space-y-8">
      <PageHeader
        title="Dashboard"
        description="The asset tokens your wallet holds, what each one earned from settled queries, and what you can claim now. Everything here is read from the chain."
      />
      <WalletOverview />
    </div>
  );
}
