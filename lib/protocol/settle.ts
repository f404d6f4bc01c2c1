// The settlement call: for each session, its newest voucher, the state it builds on and the records of
// the queries since (docs/settlement-format.md). Encoded and decoded with the contract's own ABI.
import { decodeFunctionData, encodeAbiParameters, encodeFunctionData, keccak256, type Hex } from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import { packRecords, unpackRecords, type QueryRecord } from "./records";
import type { Session } from "./session";
import { checkVoucher, type Voucher } from "./voucher";

export interface SettleItem {
  session: Session;
  /** The payer's signature of the session; "0x" once the session has settled before (its state is set). */
  sessionSignature: Hex;
  voucher: Voucher;
  voucherSignature: Hex;
  /** The state this settlement builds on: the seq and per-slot totals settled so far (0 and [] at first). */
  prevSeq: bigint;
  prevSettled: bigint[];
  records: QueryRecord[];
}

/** Why the contract skipped a session (`SessionRejected.reason`), by value. */
export const REJECT_REASONS = [
  "None",
  "NotOperator",
  "SessionInvalid",
  "VoucherInvalid",
  "Revoked",
  "StaleVoucher",
  "StateMismatch",
  "BadSignature",
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

/** The commitment KipSettlement keeps per session: `keccak256(abi.encode(seq, slots, settled))`. */
export function stateHash(seq: bigint, slots: readonly bigint[], settled: readonly bigint[]): Hex {
  return keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256[]" }, { type: "uint256[]" }], [seq, [...slots], [...settled]]));
}

/** The session's commitment on chain once `item` has settled. */
export function stateAfter(item: Pick<SettleItem, "voucher" | "prevSettled" | "records">): Hex {
  return stateHash(item.voucher.seq, item.voucher.slots, settledAfter(item));
}

/** Per-slot totals after `item` settles (aligned with its voucher's slots). */
export function settledAfter(item: Pick<SettleItem, "voucher" | "prevSettled" | "records">): bigint[] {
  const settled = item.voucher.slots.map((_, i) => item.prevSettled[i] ?? 0n);
  for (const record of item.records) {
    for (const { slot, amount } of record.charges) settled[item.voucher.slots.indexOf(slot)] += amount;
  }
  return settled;
}

/** The `settle` calldata. Throws on anything the contract would refuse as malformed. */
export function encodeSettle(items: readonly SettleItem[]): Hex {
  return encodeFunctionData({ abi: kipSettlementAbi, functionName: "settle", args: [items.map(toAbi)] });
}

/** The ABI tuple of one item. */
export function toAbi(item: SettleItem) {
  checkVoucher(item.voucher);
  if (item.prevSettled.length > item.voucher.slots.length) throw new RangeError("more settled totals than voucher slots");
  return {
    session: item.session,
    sessionSignature: item.sessionSignature,
    voucher: item.voucher,
    voucherSignature: item.voucherSignature,
    prevSeq: item.prevSeq,
    prevSettled: item.prevSettled,
    records: packRecords(item.voucher.slots, item.records),
  };
}

export interface DecodedItem extends Omit<SettleItem, "records"> {
  /** The records, or null when their bytes are malformed (the contract rejected that session). */
  records: QueryRecord[] | null;
}

/** Reads a `settle` transaction's input back: every query's record, from the chain alone. */
export function decodeSettle(input: Hex): DecodedItem[] {
  const { functionName, args } = decodeFunctionData({ abi: kipSettlementAbi, data: input });
  if (functionName !== "settle") throw new Error(`not a settle call (${functionName})`);
  return args[0].map((item) => {
    let records: QueryRecord[] | null;
    try {
      records = unpackRecords(item.voucher.slots, item.records);
    } catch {
      records = null;
    }
    return {
      session: { ...item.session },
      sessionSignature: item.sessionSignature,
      voucher: { ...item.voucher, slots: [...item.voucher.slots], maxAmounts: [...item.voucher.maxAmounts] },
      voucherSignature: item.voucherSignature,
      prevSeq: item.prevSeq,
      prevSettled: [...item.prevSettled],
      records,
    };
  });
}
