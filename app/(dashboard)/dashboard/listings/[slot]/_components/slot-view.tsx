"use client";
// One listing's earnings, read from the chain through /api/earnings/slots/:slot and refreshed per block.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { formatAmount, formatShares, formatTime } from "@/lib/chain/format";
import type { RelatedListing, SlotReport } from "@/lib/chain/reports";
import { Card, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { QueryProvider } from "@/components/web3/query-client";
import { useSession } from "@/components/web3/session";
import { TxLink, TxSources } from "@/components/web3/tx-link";
import { fetchReport, useRefreshOnNewBlock } from "@/components/web3/use-chain-refresh";
import { Figure, KindBadge } from "../../../_components/figure";
import { QueriesTable } from "../../../_components/queries-table";
import { ActivityChart } from "./activity-chart";
import { PriceEditor } from "./price-editor";

function Related({ title, items, empty }: { title: string; items: RelatedListing[]; empty: string }) {
  return (
    <Card title={title}>
      {items.length === 0 ? (
        <p className="text-sm text-muted">{empty}</p>
      ) : (
        <ul className="space-y-2">
          {items.map((item) => (
            <li key={item.listingId} className="flex min-w-0 items-center gap-2 text-sm">
              <KindBadge kind={item.kind} />
              {item.slot ? (
                <Link href={`/dashboard/listings/${item.slot}`} className="min-w-0 font-medium text-brand-800 underline underline-offset-2 wrap-anywhere">
                  {item.name}
                </Link>
              ) : (
                <span className="min-w-0 font-medium text-ink wrap-anywhere">{item.name}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function SlotView({ slot }: { slot: string }) {
  return (
    <QueryProvider>
      <Slot slot={slot} />
    </QueryProvider>
  );
}

function Slot({ slot }: { slot: string }) {
  const config = usePublicConfig();
  const queryClient = useQueryClient();
  const session = useSession();
  const queryKey = ["earnings", "slot", slot] as const;
  const report = useQuery({ queryKey, queryFn: () => fetchReport<SlotReport>(`/api/earnings/slots/${slot}`), enabled: config.contracts !== null });
  useRefreshOnNewBlock(queryKey, config.contracts !== null);

  if (!config.contracts) return <Notice tone="warning">{config.contractsError ?? "No contracts are deployed on this chain."}</Notice>;
  if (report.isPending) return <p role="status" className="text-sm text-muted">Reading slot {slot} from the chain…</p>;
  if (report.isError) return <Notice tone="warning">Could not read slot {slot}: {report.error.message}</Notice>;
  const data = report.data;
  const token = data.token;
  const isCreator = session !== null && session.address.toLowerCase() === data.asset.creator.toLowerCase();
  const allTx = [...new Set(data.daily.flatMap((day) => day.txHashes))].reverse();

  return (
    <div className="space-y-6">
      <PageHeader
        title={data.asset.name}
        description={data.description ?? `Slot ${data.asset.slot} on chain ${config.chainId}. ${data.asset.nameSource === "none" ? "Not listed in this marketplace." : ""}`}
      >
        <Link href="/dashboard" className="rounded-lg border border-line bg-white px-4 py-2 text-sm font-medium text-ink hover:bg-slate-50">
          ← Dashboard
        </Link>
      </PageHeader>
      <div className="flex flex-wrap items-center gap-2 text-sm text-muted">
        <KindBadge kind={data.asset.kind} />
        <span>slot {data.asset.slot}</span>
        <span>·</span>
        <span className="min-w-0">
          creator <span className="break-all font-mono text-xs">{data.asset.creator}</span>
        </span>
        <span>·</span>
        <span>{data.asset.active ? "active" : "inactive"}</span>
      </div>

      <Card>
        <dl className="grid grid-cols-2 gap-4 md:grid-cols-4">
          <Figure label="Queries served" value={data.queries.toLocaleString("en-US")} sources={<TxSources hashes={allTx} label="settlements" />} testId="slot-queries" />
          <Figure label="Paid by users" value={formatAmount(data.gross, token)} />
          <Figure label="Revenue to holders" value={formatAmount(data.asset.revenue, token)} sources={<TxSources hashes={allTx} label="settlements" />} testId="slot-revenue" />
          <Figure label="Price per query" value={formatAmount(data.asset.pricePerQuery, token)} sources={<TxSources hashes={[...data.priceHistory].reverse().map((p) => p.txHash)} label="price changes" />} testId="slot-price" />
        </dl>
      </Card>

      <Card title="Queries and revenue per day">
        <ActivityChart days={data.daily} token={token} />
      </Card>

      <div className="grid grid-cols-1 gap-4 md:grid-cols-2">
        {data.asset.kind === "app" ? (
          <Related title="This app uses" items={data.uses} empty="No model or datasets recorded for this app here." />
        ) : (
          <Related title={`Apps using this ${data.asset.kind}`} items={data.usedBy} empty={`No app in this marketplace uses this ${data.asset.kind} yet.`} />
        )}
        <Card title="Price">
          {isCreator ? (
            <PriceEditor slot={slot} current={data.asset.pricePerQuery} assets={config.contracts.assets} token={token} onDone={() => void queryClient.invalidateQueries({ queryKey })} />
          ) : (
            <p className="text-sm text-muted">Only the creator&apos;s wallet can change the price.</p>
          )}
          <h3 className="mt-4 text-xs font-medium uppercase tracking-wide text-muted">History</h3>
          <ul className="mt-1 space-y-1 text-sm">
            {[...data.priceHistory].reverse().map((change) => (
              <li key={change.txHash + change.blockNumber} className="flex flex-wrap items-center gap-2">
                <span className="tabular-nums">{formatAmount(change.price, token)}</span>
                <span className="text-xs text-muted">{formatTime(change.timestamp)}</span>
                <TxLink hash={change.txHash} className="text-xs" />
              </li>
            ))}
          </ul>
        </Card>
      </div>

      <Card title="Holders">
        <div className="overflow-x-auto">
          <table className="w-full min-w-[28rem] text-left text-sm">
            <caption className="sr-only">Tokens holding shares of this asset</caption>
            <thead className="text-xs uppercase tracking-wide text-muted">
              <tr>
                <th scope="col" className="py-2 pr-3 font-medium">Token</th>
                <th scope="col" className="py-2 pr-3 font-medium">Owner</th>
                <th scope="col" className="py-2 pr-3 text-right font-medium">Shares</th>
                <th scope="col" className="py-2 text-right font-medium">Claimable</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-line">
              {data.holders.map((holder) => (
                <tr key={holder.tokenId}>
                  <td className="py-2 pr-3">#{holder.tokenId}</td>
                  <td className="py-2 pr-3 font-mono text-xs">{holder.owner}</td>
                  <td className="py-2 pr-3 text-right tabular-nums">
                    {formatShares(holder.shares)} <span className="text-muted">({holder.sharePercent} %)</span>
                  </td>
                  <td className="py-2 text-right tabular-nums">{formatAmount(holder.claimable, token)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>

      <Card title="Recent settled queries">
        <QueriesTable rows={data.recentQueries} token={token} caption={`Recent settled queries of ${data.asset.name}`} />
      </Card>
    </div>
  );
}
