// A transaction as the chain records it, with the events it emitted decoded (KipAssets, KipSettlement
// and the payment token's ERC-20 events), amounts in token units and slots by their listings' names.
// Transaction links open this page when no block explorer is configured (EXPLORER_URL), e.g. on a local
// chain.
import type { Metadata } from "next";
import Link from "next/link";
import { connection } from "next/server";
import { notFound } from "next/navigation";
import { getAddress, type Address, type Hex } from "viem";
import { Card, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readDeployment } from "@/lib/chain/deployment";
import { formatAmount, formatShares, formatTime, type TokenDisplay } from "@/lib/chain/format";
import { readTokenInfo } from "@/lib/chain/token";
import { CONTRACT_NAMES, decodeTxLog, slotsOf, type TxContract, type TxValue } from "@/lib/chain/tx-events";
import { decodeSettle, settlementOutcome, type SettlementItemOutcome } from "@/lib/protocol";
import { serverPublicClient } from "@/lib/chain/server-client";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";

export const metadata: Metadata = { title: "Transaction" };

type SlotNames = Map<string, { name: string; kind: string }>;

/** A token amount in its own units ("0.0117 mUSD"), or in base units when the token cannot be read. */
function amountText(units: bigint, token: TokenDisplay | null): string {
  return token ? formatAmount(units, token) : `${units.toString()} base units of the payment token`;
}

/** "slot 10 · Classics Tutor (app)", linking to the slot's figures. */
function SlotName({ slot, names }: { slot: bigint; names: SlotNames }) {
  const known = names.get(slot.toString());
  return (
    <Link href={`/dashboard/listings/${slot}`} className="text-brand-700 underline">
      slot {slot.toString()}
      {known ? ` · ${known.name} (${known.kind})` : ""}
    </Link>
  );
}

function Value({ value, token, names }: { value: TxValue; token: TokenDisplay | null; names: SlotNames }) {
  switch (value.kind) {
    case "amount":
      return <span className="tabular-nums text-ink">{amountText(value.units, token)}</span>;
    case "shares":
      return <span className="tabular-nums">{formatShares(value.value)} shares</span>;
    case "slot":
      return <SlotName slot={value.slot} names={names} />;
    case "tokenId":
      return <span>token #{value.tokenId.toString()}</span>;
    case "time":
      return <span>{formatTime(value.timestamp)}</span>;
    case "address":
      return <span className="break-all font-mono text-xs">{value.address}</span>;
    case "text":
      return <span className={/^0x[0-9a-f]+$/i.test(value.text) ? "break-all font-mono text-xs" : "break-words"}>{value.text}</span>;
  }
}

/** Names of the listings behind `slots` (on this deployment's KipAssets), by slot; empty when the database cannot be read. */
async function slotNames(chainId: number, assets: Address, slots: bigint[]): Promise<SlotNames> {
  const names: SlotNames = new Map();
  if (slots.length === 0) return names;
  try {
    const listings = await getDb().listing.findMany({
      where: { chainId, assets: { in: [assets, getAddress(assets), assets.toLowerCase()] }, slotId: { in: slots.map(Number) } },
      select: { slotId: true, name: true, kind: true },
    });
    for (const listing of listings) if (listing.slotId !== null) names.set(String(listing.slotId), { name: listing.name, kind: listing.kind });
  } catch (error) {
    console.error("tx page: slot names could not be read", error);
  }
  return names;
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
  const contracts = new Map<string, TxContract>();
  let deployment: ReturnType<typeof readDeployment> | null = null;
  try {
    deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
    contracts.set(deployment.assets.toLowerCase(), "assets");
    contracts.set(deployment.settlement.toLowerCase(), "settlement");
    contracts.set(deployment.paymentToken.toLowerCase(), "paymentToken");
  } catch {
    // Without a deployment the events are listed undecoded.
  }
  const token = deployment ? await readTokenInfo(deployment.paymentToken as Address) : null;
  // A settlement carries every query's record in its input, sent by the operator of all its sessions; its
  // SessionRejected logs name the items the contract skipped. Read here from the chain alone.
  let settled: SettlementItemOutcome[] = [];
  if (deployment && receipt.to && contracts.get(receipt.to.toLowerCase()) === "settlement") {
    try {
      const tx = await client.getTransaction({ hash: hash as Hex });
      settled =
        receipt.status === "success"
          ? settlementOutcome(tx.input, tx.from, deployment.settlement as Address, receipt.logs)
          : decodeSettle(tx.input, tx.from).map((item, index) => ({ ...item, index, rejected: null }));
    } catch {
      settled = []; // not a settle call (a deposit, a withdrawal, ...)
    }
  }
  const reverted = receipt.status !== "success";
  const settledRecords = reverted ? 0 : settled.reduce((n, item) => n + (item.rejected === null ? (item.records?.length ?? 0) : 0), 0);
  const events = receipt.logs.map((log) => decodeTxLog(log, contracts));
  const recordSlots = settled.flatMap((item) => (item.records ?? []).flatMap((r) => [r.app, ...r.charges.map((c) => c.slot)]));
  const names: SlotNames = deployment ? await slotNames(env.CHAIN_ID, deployment.assets as Address, [...new Set([...slotsOf(events), ...recordSlots])]) : new Map();

  return (
    <div className="space-y-6">
      <PageHeader title="Transaction" description={<span className="break-all font-mono text-sm">{hash}</span>} />
      <Card>
        <dl className="grid grid-cols-1 gap-3 text-sm sm:grid-cols-2">
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
          {events.map((event) => (
            <li key={event.logIndex} className="rounded-lg border border-line px-3 py-2" data-testid="tx-event">
              <p className="flex flex-wrap items-baseline gap-x-2">
                <span className="font-medium text-ink">{event.name ?? "Undecoded event"}</span>
                <span className="text-xs text-muted">
                  {event.contract ? (event.contract === "paymentToken" && token ? `${token.symbol} (payment token)` : CONTRACT_NAMES[event.contract]) : <span className="break-all font-mono">{event.address}</span>}
                </span>
              </p>
              {event.fields.length > 0 ? (
                <dl className="mt-1 grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-0.5 text-xs">
                  {event.fields.map((field) => (
                    <div key={field.name} className="contents">
                      <dt className="text-muted">{field.name}</dt>
                      <dd className="min-w-0">
                        <Value value={field.value} token={token} names={names} />
                      </dd>
                    </div>
                  ))}
                </dl>
              ) : event.name === null ? (
                <p className="mt-1 text-xs text-muted">Emitted by a contract this deployment does not know, so it is not decoded.</p>
              ) : null}
            </li>
          ))}
        </ol>
      </Card>
      {settled.length > 0 ? (
        <Card title={`Query records (${settledRecords} settled)`}>
          <p className="mb-2 text-xs text-muted">
            Read from this transaction&apos;s input: per account its newest voucher and the record of every query it settles, with what it
            charged each slot. The sender is the operator of every session; an item a SessionRejected event names was skipped and charged
            nothing.
          </p>
          {reverted ? <p className="mb-2 text-xs text-red-700">The transaction reverted: none of these items settled.</p> : null}
          <ol className="space-y-3 text-sm">
            {settled.map((item) => (
              <li
                key={item.index}
                className="rounded-lg border border-line px-3 py-2"
                data-testid="settled-session"
                data-state={reverted ? "reverted" : item.rejected === null ? "settled" : "rejected"}
              >
                <p className="break-all font-mono text-xs">
                  item {item.index} · payer {getAddress(item.session.payer)} · session {item.voucher.session.slice(0, 10)}… · up to the account&apos;s query #
                  {item.voucher.seq.toString()}
                </p>
                <p className={`mt-0.5 text-xs ${reverted || item.rejected !== null ? "text-red-700" : "text-emerald-700"}`}>
                  {reverted ? "Not settled" : item.rejected === null ? "Settled" : `Rejected: ${item.rejected}`}
                </p>
                {item.records === null ? (
                  <p className="mt-1 text-xs text-red-700">Malformed records: the contract rejected this item.</p>
                ) : (
                  <ul className="mt-1 space-y-1">
                    {item.records.map((r) => (
                      <li key={r.recordHash} className="text-xs text-muted" data-testid="query-record">
                        <p>
                          App <SlotName slot={r.app} names={names} /> · {r.tokensIn} tokens in / {r.tokensOut} out · charged{" "}
                          <span className="tabular-nums text-ink">{amountText(r.charges.reduce((sum, c) => sum + c.amount, 0n), token)}</span>
                        </p>
                        <ul className="ml-3 list-disc pl-3">
                          {r.charges.map((c) => (
                            <li key={c.slot.toString()}>
                              <SlotName slot={c.slot} names={names} />: <span className="tabular-nums text-ink">{amountText(c.amount, token)}</span>
                            </li>
                          ))}
                        </ul>
                        <p className="break-all font-mono">record {r.recordHash}</p>
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
