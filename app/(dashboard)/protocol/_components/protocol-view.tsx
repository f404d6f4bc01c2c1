// The protocol's figures, rendered on the server from the report the page read (lib/chain); the page
// re-renders on every new block (RefreshOnNewBlock).
import Link from "next/link";
import { formatAmount } from "@/lib/chain/format";
import type { ProtocolReport } from "@/lib/chain/reports";
import { Card, EmptyState } from "@/components/ui/card";
import { TxSources } from "@/components/web3/tx-link";
import { Figure, KindBadge } from "../../dashboard/_components/figure";

export function ProtocolView({ data }: { data: ProtocolReport }) {
  const token = data.token;
  const batches = <TxSources hashes={data.batchTxHashes} label="settlement batches" />;

  return (
    <div className="space-y-6">
      <Card>
        <dl className="grid grid-cols-2 gap-5 md:grid-cols-4">
          <Figure label="Queries settled" value={BigInt(data.queriesSettled).toLocaleString("en-US")} sources={batches} testId="protocol-queries" />
          <Figure label="Paid by users" value={formatAmount(data.totalPaid, token)} sources={batches} testId="protocol-paid" />
          <Figure label={`Protocol fees (${data.feeBps / 100} %)`} value={formatAmount(data.fees, token)} sources={batches} testId="protocol-fees" />
          <Figure label="Credited to holders" value={formatAmount(data.netToHolders, token)} sources={batches} />
          <Figure label="Settlement batches" value={data.batches.toLocaleString("en-US")} />
          <Figure label="Settlements rejected" value={BigInt(data.sessionsRejected).toLocaleString("en-US")} />
          <Figure label="Fees not yet withdrawn" value={formatAmount(data.feesAccrued, token)} />
          <Figure label="Prepaid balances" value={formatAmount(data.totalDeposits, token)} />
          <Figure label="Licences sold" value={data.licencesSold.toLocaleString("en-US")} testId="protocol-licences" />
        </dl>
        <p className="mt-4 text-xs text-muted">As of block {data.headBlock.toLocaleString("en-US")}; refreshed on every new block.</p>
      </Card>

      <section aria-labelledby="top-assets">
        <h2 id="top-assets" className="mb-3 text-sm font-semibold uppercase tracking-wide text-muted">
          Top assets by revenue
        </h2>
        {data.topAssets.length === 0 ? (
          <EmptyState title="No settled queries yet">Assets appear here once receipts for their queries are settled on chain.</EmptyState>
        ) : (
          <div className="overflow-x-auto rounded-xl border border-line bg-white shadow-sm">
            <table className="w-full min-w-[36rem] text-left text-sm">
              <caption className="sr-only">Assets ranked by net revenue credited</caption>
              <thead className="bg-slate-50 text-xs uppercase tracking-wide text-muted">
                <tr>
                  <th scope="col" className="px-4 py-2 font-medium">Asset</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium">Queries</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium">Paid</th>
                  <th scope="col" className="px-4 py-2 text-right font-medium">To holders</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-line">
                {data.topAssets.map((asset) => (
                  <tr key={asset.slot}>
                    <td className="px-4 py-2">
                      <div className="flex items-center gap-2">
                        <KindBadge kind={asset.kind} />
                        <Link href={`/dashboard/listings/${asset.slot}`} className="font-medium text-brand-800 underline underline-offset-2">
                          {asset.name}
                        </Link>
                      </div>
                    </td>
                    <td className="px-4 py-2 text-right tabular-nums">{asset.queries.toLocaleString("en-US")}</td>
                    <td className="px-4 py-2 text-right tabular-nums">{formatAmount(asset.gross, token)}</td>
                    <td className="px-4 py-2 text-right tabular-nums">{formatAmount(asset.net, token)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
