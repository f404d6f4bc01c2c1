// The settlement call: per account (payer with this operator), its newest voucher and the records of the
// queries since its last settled seq, packed into one byte string (docs/settlement-format.md). The session's
// operator is the sender of the transaction: it is not in the calldata.
import {
  concatHex,
  decodeEventLog,
  decodeFunctionData,
  encodeFunctionData,
  getAddress,
  hexToBigInt,
  hexToNumber,
  numberToHex,
  parseSignature,
  serializeCompactSignature,
  signatureToCompactSignature,
  sliceHex,
  size,
  type Address,
  type Hex,
} from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import { LIMITS } from "./eip712";
import { packRecords, unpackRecords, type QueryRecord } from "./records";
import { checkSession, hashSession, type Session } from "./session";
import { checkVoucher, type Voucher } from "./voucher";

export interface SettleItem {
  /** The session whose key signed the voucher (its operator is the settlement's sender). */
  session: Session;
  /**
   * The payer's approval of the session: "key" for an EOA's EIP-712 signature (65 bytes, sent in its
   * 64-byte EIP-2098 form), "wallet" for what a smart wallet's ERC-1271 check accepts, sent as it is ("0x"
   * once the contract recorded the wallet's approval).
   */
  sessionSignature: { kind: "key" | "wallet"; signature: Hex };
  /** The account's newest voucher this settlement covers. */
  voucher: Voucher;
  /** The session key's signature of the voucher (65 bytes; sent as EIP-2098). */
  voucherSignature: Hex;
  /** One record per answered query since the account's last settled seq, in seq order. */
  records: QueryRecord[];
}

/** Why the contract skipped an item (`SessionRejected.reason`), by value. */
export const REJECT_REASONS = [
  "None",
  "SessionInvalid",
  "VoucherInvalid",
  "BadSignature",
  "Revoked",
  "StaleVoucher",
  "BadSessionSignature",
  "MalformedRecords",
  "AboveMax",
  "SpendCapExceeded",
  "InsufficientBalance",
  "UnknownSlot",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export function rejectReasonName(reason: number): RejectReason | `Unknown(${number})` {
  return REJECT_REASONS[reason] ?? `Unknown(${reason})`;
}

/** A 65-byte key signature in the contract's 64-byte EIP-2098 form (r, yParity and s). */
export function compactSignature(signature: Hex): Hex {
  if (size(signature) === 64) return signature;
  return serializeCompactSignature(signatureToCompactSignature(parseSignature(signature)));
}

/** The batch's slot table: every slot its records name (as app or with an amount), ascending. */
export function slotTable(items: readonly Pick<SettleItem, "records">[]): bigint[] {
  const slots = new Set<bigint>();
  for (const item of items) {
    for (const record of item.records) {
      slots.add(record.app);
      for (const { slot } of record.charges) slots.add(slot);
    }
  }
  const table = [...slots].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (table.length > LIMITS.batchSlots) throw new RangeError(`a batch names at most ${LIMITS.batchSlots} slots`);
  return table;
}

/** One item's bytes. Throws on anything the contract would refuse as malformed. */
function packItem(item: SettleItem, table: readonly bigint[]): Hex {
  checkSession(item.session);
  checkVoucher(item.voucher);
  const sessionSignature = item.sessionSignature.kind === "key" ? compactSignature(item.sessionSignature.signature) : item.sessionSignature.signature;
  if (size(sessionSignature) > 0xffff) throw new RangeError("a session signature is at most 65,535 bytes");
  const records = packRecords(table, item.records);
  if (size(records) > 0xffffff) throw new RangeError("an item's records are at most 16,777,215 bytes");
  return concatHex([
    getAddress(item.session.payer),
    getAddress(item.session.key),
    numberToHex(item.session.spendCap, { size: 12 }),
    numberToHex(item.session.expiry, { size: 5 }),
    numberToHex(item.session.nonce, { size: 8 }),
    numberToHex(item.voucher.seq, { size: 5 }),
    numberToHex(item.voucher.issuedAt, { size: 5 }),
    numberToHex(item.voucher.cumulativeMax, { size: 12 }),
    item.voucher.charges,
    compactSignature(item.voucherSignature),
    numberToHex(size(sessionSignature), { size: 2 }),
    sessionSignature,
    numberToHex(size(records), { size: 3 }),
    records,
  ]);
}

/** The `settle(batch, slots)` arguments. Throws on anything the contract would refuse as malformed. */
export function settleArgs(items: readonly SettleItem[]): { batch: Hex; slots: bigint[] } {
  if (items.length === 0) throw new RangeError("a settlement has at least one item");
  const slots = slotTable(items);
  return { batch: concatHex(items.map((item) => packItem(item, slots))), slots };
}

/** The `settle` calldata. */
export function encodeSettle(items: readonly SettleItem[]): Hex {
  const { batch, slots } = settleArgs(items);
  return encodeFunctionData({ abi: kipSettlementAbi, functionName: "settle", args: [batch, slots] });
}

export interface DecodedItem {
  /** The item's session, with the settlement's sender as its operator. */
  session: Session;
  /** The payer's approval as sent (64 bytes for an EOA). */
  sessionSignature: Hex;
  voucher: Voucher;
  /** EIP-2098 (r, vs). */
  voucherSignature: Hex;
  /** The records, or null when their bytes are malformed (the contract rejected that item). */
  records: QueryRecord[] | null;
}

/**
 * Reads a `settle` transaction's input back (`operator` is the transaction's sender): every query's record,
 * from the chain alone. Throws when the input is not a whole settle call.
 */
export function decodeSettle(input: Hex, operator: Address): DecodedItem[] {
  const { functionName, args } = decodeFunctionData({ abi: kipSettlementAbi, data: input });
  if (functionName !== "settle") throw new Error(`not a settle call (${functionName})`);
  const [batch, slots] = args;
  const items: DecodedItem[] = [];
  const length = size(batch);
  let at = 0;
  const take = (bytes: number): Hex => {
    if (at + bytes > length) throw new RangeError(`malformed batch: item ${items.length} ends past the batch`);
    const part = bytes === 0 ? "0x" : sliceHex(batch, at, at + bytes, { strict: true });
    at += bytes;
    return part;
  };
  while (at < length) {
    const payer = getAddress(take(20));
    const key = getAddress(take(20));
    const spendCap = hexToBigInt(take(12));
    const expiry = hexToBigInt(take(5));
    const nonce = hexToBigInt(take(8));
    const seq = hexToBigInt(take(5));
    const issuedAt = hexToBigInt(take(5));
    const cumulativeMax = hexToBigInt(take(12));
    const charges = take(32);
    const voucherSignature = take(64);
    const sessionSignature = take(hexToNumber(take(2)));
    const recordBytes = take(hexToNumber(take(3)));
    let records: QueryRecord[] | null;
    try {
      records = unpackRecords(slots, recordBytes);
    } catch {
      records = null;
    }
    const session: Session = { payer, key, operator: getAddress(operator), spendCap, expiry, nonce };
    items.push({
      session,
      sessionSignature,
      voucher: { session: hashSession(session), seq, issuedAt, cumulativeMax, charges },
      voucherSignature,
      records,
    });
  }
  return items;
}

/** One item of a mined settlement: what it carried, and whether the contract settled or skipped it. */
export interface SettlementItemOutcome extends DecodedItem {
  /** The item's position in the batch (`SessionRejected.item`). */
  index: number;
  /** Why the contract skipped it (a `SessionRejected` of this item), or null: it settled. */
  rejected: RejectReason | `Unknown(${number})` | null;
}

/**
 * Every item of a mined `settle` transaction with its outcome, from the chain alone: the input (sent by
 * `operator`) says what each item carried, and the contract's `SessionRejected` logs (`logs` of the
 * transaction's receipt from `settlement`) say which were skipped; every other item settled whole. A
 * reverted transaction settled nothing: pass only a successful one's logs.
 */
export function settlementOutcome(
  input: Hex,
  operator: Address,
  settlement: Address,
  logs: readonly { address: Address; data: Hex; topics: readonly Hex[] }[],
): SettlementItemOutcome[] {
  const rejected = new Map<number, number>();
  for (const log of logs) {
    if (log.address.toLowerCase() !== settlement.toLowerCase()) continue;
    try {
      const event = decodeEventLog({ abi: kipSettlementAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] });
      if (event.eventName === "SessionRejected") rejected.set(Number(event.args.item), event.args.reason);
    } catch {
      // another event of the contract, or not one of its events
    }
  }
  return decodeSettle(input, operator).map((item, index) => {
    const reason = rejected.get(index);
    return { ...item, index, rejected: reason === undefined ? null : rejectReasonName(reason) };
  });
}
