// A transaction's logs for people (the /tx page): every event of KipAssets, KipSettlement and the
// payment token decoded with its contract's ABI, each argument tagged with what it is (a token amount,
// a slot, a token id, a time, an address), so the page can print amounts in token units and name slots.
// Pure: no node, no database.
import { decodeEventLog, erc20Abi, getAddress, type Abi, type Address, type Hex, type Log } from "viem";
import { kipAssetsAbi, kipSettlementAbi } from "@/lib/chain/generated";
import { ASSET_KINDS } from "@/lib/chain/earnings";
import { rejectReasonName } from "@/lib/protocol";

export type TxContract = "assets" | "settlement" | "paymentToken";

export const CONTRACT_NAMES: Record<TxContract, string> = { assets: "KipAssets", settlement: "KipSettlement", paymentToken: "Payment token" };

const ABIS: Record<TxContract, Abi> = { assets: kipAssetsAbi, settlement: kipSettlementAbi, paymentToken: erc20Abi };

export type TxValue =
  /** Payment-token base units. */
  | { kind: "amount"; units: bigint }
  /** ERC-3525 value: a slot's shares (1,000,000 per slot). */
  | { kind: "shares"; value: bigint }
  | { kind: "slot"; slot: bigint }
  | { kind: "tokenId"; tokenId: bigint }
  /** Unix seconds. */
  | { kind: "time"; timestamp: number }
  | { kind: "address"; address: Address }
  | { kind: "text"; text: string };

export interface TxField {
  name: string;
  value: TxValue;
}

export interface TxEvent {
  logIndex: number;
  address: Address;
  /** Which of the deployment's contracts emitted it, or null for another contract. */
  contract: TxContract | null;
  /** The event's name, or null when it could not be decoded. */
  name: string | null;
  fields: TxField[];
}

/** Arguments in payment-token base units, by name (the same in both protocol contracts). */
const AMOUNTS = new Set(["amount", "balance", "pricePerQuery", "oldPrice", "newPrice", "spendCap", "total", "gross", "fees"]);
const SLOTS = new Set(["slot", "oldSlot", "newSlot"]);
const TOKEN_IDS = new Set(["tokenId", "fromTokenId", "toTokenId"]);
const TIMES = new Set(["readyAt", "expiry", "effectiveAt"]);

function classify(contract: TxContract, event: string, name: string, raw: unknown): TxValue {
  if (typeof raw === "bigint") {
    // An ERC-20's `value` is an amount of the token; an ERC-3525 `value` is shares of a slot.
    if (name === "value") return contract === "paymentToken" ? { kind: "amount", units: raw } : { kind: "shares", value: raw };
    if (AMOUNTS.has(name)) return { kind: "amount", units: raw };
    if (SLOTS.has(name)) return { kind: "slot", slot: raw };
    if (TOKEN_IDS.has(name)) return { kind: "tokenId", tokenId: raw };
    if (TIMES.has(name)) return { kind: "time", timestamp: Number(raw) };
    if (name === "oldFeeBps" || name === "newFeeBps") return { kind: "text", text: `${raw} bps` };
    return { kind: "text", text: raw.toString() };
  }
  if (typeof raw === "number") {
    if (event === "AssetListed" && name === "kind") return { kind: "text", text: ASSET_KINDS[raw] ?? `kind ${raw}` };
    if (event === "SessionRejected" && name === "reason") return { kind: "text", text: `${rejectReasonName(raw)} (${raw})` };
    return { kind: "text", text: String(raw) };
  }
  if (typeof raw === "string" && /^0x[0-9a-fA-F]{40}$/.test(raw)) return { kind: "address", address: getAddress(raw) };
  return { kind: "text", text: String(raw) };
}

/**
 * Decode one log of a transaction. `contracts` maps lower-case addresses to the deployment's contracts;
 * a log of any other contract, or one its ABI does not know, comes back with `name: null`.
 */
export function decodeTxLog(log: Pick<Log, "address" | "data" | "topics" | "logIndex">, contracts: ReadonlyMap<string, TxContract>): TxEvent {
  const address = getAddress(log.address);
  const contract = contracts.get(log.address.toLowerCase()) ?? null;
  const base = { logIndex: log.logIndex ?? 0, address, contract };
  if (!contract) return { ...base, name: null, fields: [] };
  let decoded: { eventName: string; args: unknown };
  try {
    decoded = decodeEventLog({ abi: ABIS[contract], data: log.data, topics: log.topics as [Hex, ...Hex[]] }) as { eventName: string; args: unknown };
  } catch {
    return { ...base, name: null, fields: [] };
  }
  const args = (decoded.args ?? {}) as Record<string, unknown>;
  const fields = Object.entries(args).map(([key, raw]) => {
    // ERC-3525's events name their arguments _fromTokenId, _value, …
    const name = key.replace(/^_+/, "");
    return { name, value: classify(contract, decoded.eventName, name, raw) };
  });
  return { ...base, name: decoded.eventName, fields };
}

/** The slots a transaction's events and records mention, to look their names up once. */
export function slotsOf(events: readonly TxEvent[]): bigint[] {
  const slots = new Set<bigint>();
  for (const event of events) for (const field of event.fields) if (field.value.kind === "slot") slots.add(field.value.slot);
  return [...slots];
}
