// The packed settlement batch (docs/settlement-format.md) and the ReceiptSettled charge packing.
import { concatHex, hexToBytes, numberToHex, size, type Hex } from "viem";
import { LIMITS } from "./eip712";
import type { Receipt } from "./receipt";
import type { Session } from "./session";

export const MAX_SLOTS_PER_BATCH = 64;

export interface BatchSession {
  session: Session;
  /**
   * The wallet's signature, exactly as the wallet returned it (1..255 bytes; an EOA's is 65 bytes, with v
   * 27/28 or 0/1); omit it when the session is already registered on chain. It is never altered: a smart
   * wallet's signature (ERC-1271) must reach the contract byte for byte.
   */
  signature?: Hex;
}

export interface BatchReceipt {
  /** Index into `sessions`: the session whose key signed this receipt (its payer is `receipt.payer`). */
  sessionIndex: number;
  receipt: Receipt;
  /** The session key's ECDSA signature (65 bytes; v 0/1 is sent as 27/28). */
  signature: Hex;
  /**
   * What to charge each slot, `amounts[i] <= receipt.maxAmounts[i]` (default: the maxima). 0 is allowed. Only
   * an authorized settler (`KipSettlement.isSettler`) may charge less than the maxima: from anyone else
   * such a receipt is rejected (AmountNotSignedMax).
   */
  amounts?: bigint[];
}

export interface BatchInput {
  sessions: BatchSession[];
  receipts: BatchReceipt[];
}

const u = (value: bigint | number, bytes: number): Hex => numberToHex(BigInt(value), { size: bytes });

/** Longest session signature the format carries (its length is one byte; 0 means "registered"). */
export const MAX_SESSION_SIGNATURE_BYTES = 255;

/** A session key's ECDSA signature as the contract checks it: 65 bytes, v 27/28. */
function receiptSignature(signature: Hex): Hex {
  const bytes = hexToBytes(signature);
  if (bytes.length !== 65) throw new RangeError(`receipt signatures must be 65 bytes (r, s, v), got ${bytes.length}`);
  if (bytes[64] < 27) bytes[64] += 27;
  return concatHex([signature.slice(0, 130) as Hex, u(bytes[64], 1)]);
}

/** A wallet's session signature, unchanged: the contract reads v 0/1 of an EOA itself, and a smart wallet's
 * bytes mean whatever that wallet says they mean. */
function sessionSignature(signature: Hex): Hex {
  const length = size(signature);
  if (length === 0 || length > MAX_SESSION_SIGNATURE_BYTES) {
    throw new RangeError(`session signatures must be 1..${MAX_SESSION_SIGNATURE_BYTES} bytes, got ${length}`);
  }
  return signature;
}

/** Packs sessions and receipts into the bytes `KipSettlement.settle` takes. */
export function encodeBatch({ sessions, receipts }: BatchInput): Hex {
  if (sessions.length > 255) throw new RangeError("at most 255 sessions per batch");
  // Slot table: every slot charged, in order of first use, with its most frequent maxAmount as the price.
  const slotIndex = new Map<bigint, number>();
  const priceVotes: Map<bigint, number>[] = [];
  for (const { receipt } of receipts) {
    if (receipt.slots.length !== receipt.maxAmounts.length) throw new RangeError("slots and maxAmounts differ in length");
    receipt.slots.forEach((slot, i) => {
      if (!slotIndex.has(slot)) {
        slotIndex.set(slot, slotIndex.size);
        priceVotes.push(new Map());
      }
      const votes = priceVotes[slotIndex.get(slot)!];
      votes.set(receipt.maxAmounts[i], (votes.get(receipt.maxAmounts[i]) ?? 0) + 1);
    });
  }
  if (slotIndex.size > MAX_SLOTS_PER_BATCH) throw new RangeError(`at most ${MAX_SLOTS_PER_BATCH} distinct slots per batch`);
  const prices = priceVotes.map((votes) => [...votes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]);

  const parts: Hex[] = [u(sessions.length, 1), u(slotIndex.size, 1)];
  for (const { session, signature } of sessions) {
    if (session.spendCap > LIMITS.spendCap || session.expiry > LIMITS.expiry || session.nonce > LIMITS.sessionNonce) {
      throw new RangeError("session fields exceed the packed widths (spendCap uint128, expiry uint40, nonce uint64)");
    }
    const sig = signature === undefined ? undefined : sessionSignature(signature);
    parts.push(session.payer, session.key, u(session.spendCap, 16), u(session.expiry, 5), u(session.nonce, 8));
    parts.push(u(sig ? size(sig) : 0, 1));
    if (sig) parts.push(sig);
  }
  for (const [slot, index] of slotIndex) parts.push(u(slot, 8), u(prices[index], 12));

  let previous: Hex | undefined;
  for (const { sessionIndex, receipt, signature, amounts } of receipts) {
    if (sessionIndex < 0 || sessionIndex >= sessions.length) throw new RangeError(`sessionIndex ${sessionIndex} out of range`);
    if (sessions[sessionIndex].session.payer.toLowerCase() !== receipt.payer.toLowerCase()) {
      throw new RangeError("a receipt's payer must be its session's payer");
    }
    const n = receipt.slots.length;
    if (n === 0 || n > 255) throw new RangeError("a receipt charges 1..255 slots");
    if (amounts && amounts.length !== n) throw new RangeError("amounts and slots differ in length");
    const chargeParts: Hex[] = [];
    receipt.slots.forEach((slot, i) => {
      const index = slotIndex.get(slot)!;
      const max = receipt.maxAmounts[i];
      const amount = amounts?.[i] ?? max;
      if (max < 0n || max > LIMITS.amount || amount < 0n || amount > LIMITS.amount) throw new RangeError("amounts must fit uint96");
      const explicitMax = max !== prices[index];
      const explicitAmount = amount !== max;
      chargeParts.push(u(index | (explicitMax ? 0x80 : 0) | (explicitAmount ? 0x40 : 0), 1));
      if (explicitMax) chargeParts.push(u(max, 12));
      if (explicitAmount) chargeParts.push(u(amount, 12));
    });
    const charges = concatHex(chargeParts);
    // The same charge set as the previous receipt travels as n = 0.
    const repeat = previous !== undefined && charges === previous;
    parts.push(u(sessionIndex, 1), u(receipt.nonce, 8), u(receipt.deadline, 5), u(repeat ? 0 : n, 1));
    if (!repeat) parts.push(charges);
    parts.push(receiptSignature(signature));
    previous = charges;
  }
  return concatHex(parts);
}

/** Bytes of a batch (for gas estimates and limits). */
export function batchSize(batch: Hex): number {
  return size(batch);
}

export interface Charge {
  slot: bigint;
  amount: bigint;
}

const MASK_128 = (1n << 128n) - 1n;

/** Unpacks `ReceiptSettled.charges`: each word is `slotId << 128 | amount`. */
export function decodeCharges(charges: readonly bigint[]): Charge[] {
  return charges.map((word) => ({ slot: word >> 128n, amount: word & MASK_128 }));
}

/** `ReceiptRejected.reason` values (IKipSettlementTypes.RejectReason). */
export const REJECT_REASONS = [
  "None",
  "SessionInvalid",
  "SessionExpired",
  "ReceiptExpired",
  "Replayed",
  "AmountAboveMax",
  "UnknownSlot",
  "InsufficientBalance",
  "SpendCapExceeded",
  "BadSignature",
  "AmountNotSignedMax",
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export function rejectReasonName(reason: number): RejectReason | `Unknown(${number})` {
  return REJECT_REASONS[reason] ?? `Unknown(${reason})`;
}
