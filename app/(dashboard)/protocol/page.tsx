// The protocol in numbers: queries settled, paid, fees, top assets, all read from the chain.
import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { ProtocolView } from "./_components/protocol-view";

export const metadata: Metadata = { title: "Protocol" };

export default function ProtocolPage() {
  return (
    <div className="space-y-8">
      <PageHeader
        title="Protocol"
        description="Every figure on this page is computed from the settlement and asset contracts' events and views, and links to the transactions behind it."
      />
      <ProtocolView />
    </div>
  );
}
