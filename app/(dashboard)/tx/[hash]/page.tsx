// A transaction as the chain records it, with the protocol events it emitted decoded. Transaction links
// open this page when no block explorer is configured (EXPLORER_URL), e.g. on a local chain.
import type { Metadata } from "next";
import { connection } from "next/server";
import { notFound } from "next/navigation";
import { getAddress, type Hex } from "viem";
import { Card, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readDeployment } from "@/lib/chain/deployment";
import { decodeProtocolLog, type EventBody } from "@/lib/chain/events";
import { formatTime } from "@/lib/chain/format";
import { decodeSettle, type DecodedItem } from "@/lib/protocol";
import { serverPublicClient } from "@/lib/chain/server-client";
import { serverEnv } from "@/lib/env";

export const metadata: Metadata = { title: "Transaction" };

function describe(event: EventBody): string {
  return Object.entries(event)
    .filter(([key]) => key !== "name")
    .map(([key, value]) => (key === "records" && Array.isArray(value) ? `${value.length} query records (below)` : `${key}: ${String(value)}`))
    .join(" · ");
}

export default async function TransactionPage({ params }: { params: Promise<{ hash: string }> }) {
  await connection();
  const { hash } = await params;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) notFound();
  const env = serverEnv();
  const client = serverPublicClient();
  let receipt;
  let timestamp: number | null = null;
  try {
    receipt = await client.getTransactionReceipt({ hash: hash as Hex });
    timestamp = Number((await client.getBlock({ blockNumber: receipt.blockNumber })).timestamp);
  } catch {
    return (
      <div className="space-y-6">
        <PageHeader title="Transaction" description={<span className="break-all font-mono">{hash}</span>} />
        <Notice tone="warning">This transaction is not on chain {env.CHAIN_ID} (or the chain cannot be reached right now).</Notice>
      </div>
    );
  }
  let contracts: Record<string, "assets" | "settlement"> = {};
  try {
    const deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
    contracts = { [deployment.assets.toLowerCase()]: "assets", [deployment.settlement.toLowerCase()]: "settlement" };
  } catch {
    // Without a deployment the events are listed undecoded.
  }
  // A settlement carries every query's record in its input: decoded here from the chain alone.
  let settled: DecodedItem[] = [];
  if (receipt.to && contracts[receipt.to.toLowerCase()] === "settlement") {
    try {
      settled = decodeSettle((await client.getTransaction({ hash: hash as Hex })).input);
    } catch {
      settled = [];
    }
  }
  const events = receipt.logs.map((log) => {
    const source = contracts[log.address.toLowerCase()];
    return { log, event: source ? decodeProtocolLog(log, source) : null, source };
  });

  return (
    <div className="space-y-6">
      <PageHeader title="Transaction" description={<span className="break-all font-mono text-sm">{hash}</span>} />
      <Card>
        <dl className="grid gap-3 text-sm sm:grid-cols-2">
          <div>
            <dt className="text-xs uppercase tracking-wide text-muted">Status</dt>
            <dd className={receipt.status === "success" ? "text-emerald-700" : "text-red-700"}>{receipt.status === "success" ? "Succeeded" : "Reverted"}</dd>
          </div>
          <div>
            <dt className="text-xs uppercase tracking-wide text-muted">Block</dt>
            <dd>
              {receipt.blockNumber.toString()} {timestamp !== null ? <span className="text-muted">· {formatTime(timestamp)}</span> : null}
            </dd>
          </div>
          <div>
            <dt className="text-xs uppercase tracking-wide text-muted">From</dt>
            <dd className="break-all font-mono text-xs">{getAddress(receipt.from)}</dd>
          </div>
          <div>
            <dt className="text-xs uppercase tracking-wide text-muted">To</dt>
            <dd className="break-all font-mono text-xs">{receipt.to ? getAddress(receipt.to) : "contract creation"}</dd>
          </div>
        </dl>
      </Card>
      <Card title={`Events (${events.length})`}>
        <ol className="space-y-2 text-sm">
          {events.map(({ log, event, source }) => (
            <li key={log.logIndex} className="rounded-lg border border-line px-3 py-2">
              <span className="font-medium text-ink">{event ? event.name : "Other event"}</span>{" "}
              <span className="text-xs text-muted">{source ? (source === "assets" ? "KipAssets" : "KipSettlement") : getAddress(log.address)}</span>
              {event ? <p className="mt-1 break-all font-mono text-xs text-muted">{describe(event)}</p> : null}
            </li>
          ))}
        </ol>
      </Card>
      {settled.length > 0 ? (
        <Card title={`Query records (${settled.reduce((n, item) => n + (item.records?.length ?? 0), 0)})`}>
          <p className="mb-2 text-xs text-muted">
            Read from this transaction&apos;s input: each session&apos;s newest voucher and the record of every query it settles (amounts in
            base units of the payment token).
          </p>
          <ol className="space-y-3 text-sm">
            {settled.map((item) => (
              <li key={item.voucher.session} className="rounded-lg border border-line px-3 py-2" data-testid="settled-session">
                <p className="break-all font-mono text-xs">
                  payer {getAddress(item.session.payer)} · session {item.voucher.session.slice(0, 10)}… · up to voucher #{item.voucher.seq.toString()}
                </p>
                {item.records === null ? (
                  <p className="mt-1 text-xs text-red-700">Malformed records: the contract rejected this session.</p>
                ) : (
                  <ul className="mt-1 space-y-1">
                    {item.records.map((r) => (
                      <li key={r.recordHash} className="break-all font-mono text-xs text-muted">
                        app slot {r.app.toString()} · {r.tokensIn} in / {r.tokensOut} out tokens · {r.charges.map((c) => `slot ${c.slot}: ${c.amount}`).join(", ")} · record {r.recordHash}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ol>
        </Card>
      ) : null}
    </div>
  );
}
