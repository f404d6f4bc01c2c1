"use client";
// Recent settled queries of an asset: the query records of settlements' settled items, decoded from each
// settlement transaction's input (the items its SessionRejected events name are left out).
import type { QueryRow } from "@/lib/chain/reports";
import { formatAmount, formatTime, type TokenDisplay } from "@/lib/chain/format";
import { TxLink } from "@/components/web3/tx-link";

export function QueriesTable({ rows, token, caption }: { rows: QueryRow[]; token: TokenDisplay; caption: string }) {
  if (rows.length === 0) {
    return <p className="text-sm text-muted">No settled queries yet. They appear here once a batch of receipts is settled on chain.</p>;
  }
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[32rem] text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="text-xs uppercase tracking-wide text-muted">
          <tr>
            <th scope="col" className="py-2 pr-3 font-medium">Settled</th>
            <th scope="col" className="py-2 pr-3 font-medium">Payer · record</th>
            <th scope="col" className="py-2 pr-3 text-right font-medium">Charged</th>
            <th scope="col" className="py-2 font-medium">Transaction</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-line">
          {rows.map((row) => (
            <tr key={`${row.txHash}:${row.recordHash}`}>
              <td className="py-2 pr-3 whitespace-nowrap text-muted">{formatTime(row.timestamp)}</td>
              <td className="py-2 pr-3 font-mono text-xs">
                <span title={row.payer}>{row.payer.slice(0, 6)}…{row.payer.slice(-4)}</span> · <span title={`record ${row.recordHash}`}>{row.recordHash.slice(0, 10)}…</span>
              </td>
              <td className="py-2 pr-3 text-right tabular-nums">{formatAmount(row.amount, token)}</td>
              <td className="py-2">
                <TxLink hash={row.txHash} className="text-xs" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
