// The protocol's events as plain values: decoded from KipAssets / KipSettlement / KipLicences logs, stored by the event
// index (lib/chain/indexer.ts) and read by the earnings figures (lib/chain/earnings.ts). Shared by the
// server and tests; nothing here talks to a node.
import { decodeEventLog, getAddress, type Address, type Hex, type Log } from "viem";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "@/lib/chain/generated";
import type { SettlementItemOutcome } from "@/lib/protocol";

/** One slot's amount in a settled query. */
export interface Charge {
  slot: bigint;
  amount: bigint;
}

/** One settled query, read from the settlement's calldata (lib/protocol/records.ts). */
export interface SettledRecord {
  app: bigint;
  charges: Charge[];
  tokensIn: number;
  tokensOut: number;
  recordHash: Hex;
}

/**
 * One item of a settlement batch that the contract applied: an account's (payer with the batch's operator)
 * newest voucher and the records of the queries it settled, read from the transaction's input.
 */
export interface SettledItem {
  /** The item's position in the batch (what a SessionRejected of it would name). */
  index: number;
  /** The session's id, with the transaction's sender as its operator. */
  session: Hex;
  payer: Address;
  /** The session key that signed the voucher. */
  key: Address;
  /** The account's seq the item settled up to. */
  seq: bigint;
  /** What its queries were charged in total (the sum of its records' amounts). */
  total: bigint;
  records: SettledRecord[];
}

/** Where and when a log was emitted. Events sort by (blockNumber, logIndex): the chain's own order. */
export interface EventMeta {
  blockNumber: number;
  logIndex: number;
  txHash: Hex;
  /** Block timestamp, seconds. */
  timestamp: number;
}

export type EventBody =
  | { name: "AssetListed"; slot: bigint; creator: Address; kind: number; tokenId: bigint; pricePerQuery: bigint; uri: string; contentHash: Hex }
  | { name: "PriceUpdated"; slot: bigint; oldPrice: bigint; newPrice: bigint }
  | { name: "Transfer"; from: Address; to: Address; tokenId: bigint }
  | { name: "TransferValue"; fromTokenId: bigint; toTokenId: bigint; value: bigint }
  | { name: "SlotChanged"; tokenId: bigint; oldSlot: bigint; newSlot: bigint }
  | { name: "RevenueCredited"; slot: bigint; amount: bigint }
  | { name: "RevenueClaimed"; tokenId: bigint; owner: Address; amount: bigint }
  /** Item `item` of its transaction's batch was skipped for `reason` (REJECT_REASONS); nothing of it was applied. */
  | { name: "SessionRejected"; item: number; session: Hex; reason: number }
  /**
   * `operator` settled a batch. `items` are the items that settled, with their queries' records, read from
   * the transaction's input and its SessionRejected logs (`fetchEvents`); null when the transaction is not
   * one direct `settle` call of the operator that the log accounts for (then its queries are unknown).
   */
  | { name: "BatchSettled"; operator: Address; settled: bigint; rejected: bigint; gross: bigint; fees: bigint; items: SettledItem[] | null }
  /** A licence to `version` of `slot`'s files was bought: `price` paid, `fee` of it to the protocol. */
  | { name: "LicenceBought"; slot: bigint; version: bigint; buyer: Address; price: bigint; fee: bigint; upgrade: boolean };

export type EventName = EventBody["name"];
export type ProtocolEvent = EventMeta & EventBody;
export type EventOf<N extends EventName> = EventMeta & Extract<EventBody, { name: N }>;

/** Events the index keeps, per contract. Approvals and admin events are not needed by any figure. */
export const ASSET_EVENTS = ["AssetListed", "PriceUpdated", "Transfer", "TransferValue", "SlotChanged", "RevenueCredited", "RevenueClaimed"] as const;
export const SETTLEMENT_EVENTS = ["SessionRejected", "BatchSettled"] as const;
export const LICENCE_EVENTS = ["LicenceBought"] as const;
const KEPT = new Set<string>([...ASSET_EVENTS, ...SETTLEMENT_EVENTS, ...LICENCE_EVENTS]);

export type LogSource = "assets" | "settlement" | "licences";

/** Decode one log of KipAssets, KipSettlement or KipLicences; null for events the index does not keep. */
export function decodeProtocolLog(log: Pick<Log, "data" | "topics">, source: LogSource): EventBody | null {
  let decoded: { eventName: string; args: unknown };
  try {
    decoded =
      source === "assets"
        ? decodeEventLog({ abi: kipAssetsAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] })
        : source === "settlement"
          ? decodeEventLog({ abi: kipSettlementAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] })
          : decodeEventLog({ abi: kipLicencesAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] });
  } catch {
    return null;
  }
  if (!KEPT.has(decoded.eventName)) return null;
  const a = decoded.args as Record<string, unknown>;
  switch (decoded.eventName) {
    case "AssetListed":
      return {
        name: "AssetListed",
        slot: a.slot as bigint,
        creator: getAddress(a.creator as string),
        kind: Number(a.kind),
        tokenId: a.tokenId as bigint,
        pricePerQuery: a.pricePerQuery as bigint,
        uri: a.uri as string,
        contentHash: a.contentHash as Hex,
      };
    case "PriceUpdated":
      return { name: "PriceUpdated", slot: a.slot as bigint, oldPrice: a.oldPrice as bigint, newPrice: a.newPrice as bigint };
    case "Transfer":
      return { name: "Transfer", from: getAddress(a.from as string), to: getAddress(a.to as string), tokenId: a.tokenId as bigint };
    case "TransferValue":
      return { name: "TransferValue", fromTokenId: a._fromTokenId as bigint, toTokenId: a._toTokenId as bigint, value: a._value as bigint };
    case "SlotChanged":
      return { name: "SlotChanged", tokenId: a._tokenId as bigint, oldSlot: a._oldSlot as bigint, newSlot: a._newSlot as bigint };
    case "RevenueCredited":
      return { name: "RevenueCredited", slot: a.slot as bigint, amount: a.amount as bigint };
    case "RevenueClaimed":
      return { name: "RevenueClaimed", tokenId: a.tokenId as bigint, owner: getAddress(a.owner as string), amount: a.amount as bigint };
    case "SessionRejected":
      return { name: "SessionRejected", item: Number(a.item), session: a.session as Hex, reason: Number(a.reason) };
    case "BatchSettled":
      // The items travel in the transaction's input, not the log: `fetchEvents` fills them in.
      return {
        name: "BatchSettled",
        operator: getAddress(a.operator as string),
        settled: a.settled as bigint,
        rejected: a.rejected as bigint,
        gross: a.gross as bigint,
        fees: a.fees as bigint,
        items: null,
      };
    case "LicenceBought":
      return {
        name: "LicenceBought",
        slot: a.slot as bigint,
        version: a.version as bigint,
        buyer: getAddress(a.buyer as string),
        price: a.price as bigint,
        fee: a.fee as bigint,
        upgrade: a.upgrade as boolean,
      };
    default:
      return null;
  }
}

export function compareEvents(a: EventMeta, b: EventMeta): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}

/** The keys the index filters on, per event (see ChainEvent in prisma/schema.prisma). */
export function eventKeys(event: EventBody): { slot: bigint | null; tokenId: bigint | null; toTokenId: bigint | null; account: string | null } {
  const none = { slot: null, tokenId: null, toTokenId: null, account: null };
  switch (event.name) {
    case "AssetListed":
      return { ...none, slot: event.slot, tokenId: event.tokenId, account: event.creator.toLowerCase() };
    case "PriceUpdated":
    case "RevenueCredited":
      return { ...none, slot: event.slot };
    case "Transfer":
      return { ...none, tokenId: event.tokenId, account: event.to.toLowerCase() };
    case "TransferValue":
      return { ...none, tokenId: event.fromTokenId, toTokenId: event.toTokenId };
    case "SlotChanged":
      return { ...none, slot: event.newSlot, tokenId: event.tokenId };
    case "RevenueClaimed":
      return { ...none, tokenId: event.tokenId, account: event.owner.toLowerCase() };
    case "LicenceBought":
      return { ...none, slot: event.slot, account: event.buyer.toLowerCase() };
    case "SessionRejected":
    case "BatchSettled":
      return none;
  }
}

/** JSON for the index: bigints as decimal strings (tagged by field, restored by `parseEventArgs`). */
export function serializeEventArgs(event: EventBody): string {
  return JSON.stringify(event, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}

const BIGINT_FIELDS = new Set([
  "slot",
  "tokenId",
  "pricePerQuery",
  "oldPrice",
  "newPrice",
  "fromTokenId",
  "toTokenId",
  "value",
  "oldSlot",
  "newSlot",
  "amount",
  "seq",
  "total",
  "app",
  "settled",
  "rejected",
  "gross",
  "fees",
  "version",
  "price",
  "fee",
]);

export function parseEventArgs(json: string): EventBody {
  return JSON.parse(json, (key, value: unknown) => (BIGINT_FIELDS.has(key) && typeof value === "string" ? BigInt(value) : value)) as EventBody;
}

/** Every charge of a settlement's settled queries, in batch and record order. */
export function chargesOf(event: Extract<EventBody, { name: "BatchSettled" }>): Charge[] {
  return (event.items ?? []).flatMap((item) => item.records.flatMap((record) => record.charges));
}

/**
 * The items of a mined settlement that settled, from its outcome (`settlementOutcome`: the transaction's
 * input and SessionRejected logs), as BatchSettled keeps them. Null when the outcome does not account for
 * the batch's log (its settled and rejected counts and its gross): then the input was not the call that
 * emitted it, and its queries are unknown.
 */
export function settledItems(
  outcome: readonly SettlementItemOutcome[],
  batch: Pick<Extract<EventBody, { name: "BatchSettled" }>, "settled" | "rejected" | "gross">,
): SettledItem[] | null {
  const items: SettledItem[] = [];
  for (const item of outcome) {
    if (item.rejected !== null) continue;
    // An item with malformed records is always rejected (MalformedRecords): one that settled has them.
    if (item.records === null) return null;
    const records = item.records.map((r) => ({ app: r.app, charges: r.charges.map((c) => ({ slot: c.slot, amount: c.amount })), tokensIn: r.tokensIn, tokensOut: r.tokensOut, recordHash: r.recordHash }));
    items.push({
      index: item.index,
      session: item.voucher.session,
      payer: getAddress(item.session.payer),
      key: getAddress(item.session.key),
      seq: item.voucher.seq,
      total: records.reduce((sum, r) => sum + r.charges.reduce((s, c) => s + c.amount, 0n), 0n),
      records,
    });
  }
  const gross = items.reduce((sum, item) => sum + item.total, 0n);
  if (BigInt(items.length) !== batch.settled || BigInt(outcome.length - items.length) !== batch.rejected || gross !== batch.gross) return null;
  return items;
}
