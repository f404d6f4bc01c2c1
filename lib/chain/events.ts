// The protocol's events as plain values: decoded from KipAssets / KipSettlement / KipLicences logs, stored by the event
// index (lib/chain/indexer.ts) and read by the earnings figures (lib/chain/earnings.ts). Shared by the
// server and tests; nothing here talks to a node.
import { decodeEventLog, getAddress, type Address, type Hex, type Log } from "viem";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "@/lib/chain/generated";

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
  /** A session settled up to voucher `seq`; `records` are its queries, decoded from the transaction's input. */
  | { name: "SessionSettled"; session: Hex; payer: Address; seq: bigint; total: bigint; records: SettledRecord[] }
  | { name: "SessionRejected"; session: Hex; reason: number }
  | { name: "BatchSettled"; operator: Address; settled: bigint; rejected: bigint; gross: bigint; fees: bigint }
  /** A licence to `version` of `slot`'s files was bought: `price` paid, `fee` of it to the protocol. */
  | { name: "LicenceBought"; slot: bigint; version: bigint; buyer: Address; price: bigint; fee: bigint; upgrade: boolean };

export type EventName = EventBody["name"];
export type ProtocolEvent = EventMeta & EventBody;
export type EventOf<N extends EventName> = EventMeta & Extract<EventBody, { name: N }>;

/** Events the index keeps, per contract. Approvals and admin events are not needed by any figure. */
export const ASSET_EVENTS = ["AssetListed", "PriceUpdated", "Transfer", "TransferValue", "SlotChanged", "RevenueCredited", "RevenueClaimed"] as const;
export const SETTLEMENT_EVENTS = ["SessionSettled", "SessionRejected", "BatchSettled"] as const;
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
    case "SessionSettled":
      // The records travel in the transaction's input, not the log: `fetchEvents` fills them in.
      return { name: "SessionSettled", session: a.session as Hex, payer: getAddress(a.payer as string), seq: a.seq as bigint, total: a.total as bigint, records: [] };
    case "SessionRejected":
      return { name: "SessionRejected", session: a.session as Hex, reason: Number(a.reason) };
    case "BatchSettled":
      return {
        name: "BatchSettled",
        operator: getAddress(a.operator as string),
        settled: a.settled as bigint,
        rejected: a.rejected as bigint,
        gross: a.gross as bigint,
        fees: a.fees as bigint,
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
    case "SessionSettled":
      return { ...none, account: event.payer.toLowerCase() };
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

/** Every charge of a settled session's queries, in record order. */
export function chargesOf(event: Extract<EventBody, { name: "SessionSettled" }>): Charge[] {
  return event.records.flatMap((record) => record.charges);
}
