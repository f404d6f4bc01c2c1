// The protocol in numbers: queries settled, paid, fees, top assets, all read from the chain on the server
// (the figures are in the page's HTML), and read again on every new block.
import type { Metadata } from "next";
import { connection } from "next/server";
import { Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { RefreshOnNewBlock } from "@/components/web3/use-chain-refresh";
import { readProtocolReport } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { readPublicConfig } from "@/lib/chain/public-config";
import type { ProtocolReport } from "@/lib/chain/reports";
import { ProtocolView } from "./_components/protocol-view";

export const metadata: Metadata = { title: "Protocol" };

export default async function ProtocolPage() {
  await connection();
  const config = readPublicConfig();
  let report: ProtocolReport | null = null;
  let problem: string | null = config.contractsError ?? (config.contracts ? null : "No contracts are deployed on this chain.");
  if (config.contracts) {
    try {
      report = await readProtocolReport(serverReaderContext(), { top: 10 });
    } catch (error) {
      console.error(error);
      problem = `Could not read the protocol's figures from chain ${config.chainId}. Reload to try again.`;
    }
  }
  return (
    <div className="space-y-8">
      <PageHeader
        title="Protocol"
        description="Every figure on this page is computed from the settlement and asset contracts' events and views, and links to the transactions behind it."
      />
      {problem ? <Notice tone="warning">{problem}</Notice> : null}
      {report ? <ProtocolView data={report} /> : null}
      {config.contracts ? <RefreshOnNewBlock /> : null}
    </div>
  );
}
