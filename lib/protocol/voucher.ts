// Vouchers: the session key signs one per query (no wallet pop-up). Each carries the session's running
// maxima, so the operator settles only the newest voucher of a session, with the actual amounts.
import { hashTypedData, type Address, type Hex, type LocalAccount } from "viem";
import { LIMITS, settlementDomain, voucherTypes } from "./eip712";
import type { SettlementContext } from "./session";
import { isSignedByKey, type RecoverSigner } from "./signature";

export interface Voucher {
  /** The session's id (its EIP-712 struct hash). */
  session: Hex;
  seq: bigint;
  issuedAt: bigint;
  /** Every slot the session has charged up to this query, in the order they were first charged. */
  slots: bigint[];
  /** The most each slot may receive over the whole session up to this query. */
  maxAmounts: bigint[];
}

/** Throws unless the voucher fits what KipSettlement accepts. */
export function checkVoucher(voucher: Voucher): void {
  if (voucher.slots.length === 0 || voucher.slots.length > LIMITS.sessionSlots) {
    throw new RangeError(`a session charges 1..${LIMITS.sessionSlots} slots`);
  }
  if (voucher.slots.length !== voucher.maxAmounts.length) throw new RangeError("slots and maxAmounts differ in length");
  if (new Set(voucher.slots).size !== voucher.slots.length) throw new RangeError("a slot appears twice in the voucher");
  for (const slot of voucher.slots) if (slot <= 0n || slot > LIMITS.slotId) throw new RangeError("slot id must fit uint64 and be > 0");
  for (const max of voucher.maxAmounts) if (max < 0n || max > LIMITS.cumulative) throw new RangeError("maxAmount must fit uint128");
  if (voucher.seq <= 0n || voucher.seq > LIMITS.seq) throw new RangeError("seq must be 1..2^64-1");
  if (voucher.issuedAt < 0n || voucher.issuedAt > LIMITS.issuedAt) throw new RangeError("issuedAt must fit uint40");
}

/** The digest the session key signs. */
export function voucherDigest(ctx: SettlementContext, voucher: Voucher): Hex {
  return hashTypedData({ domain: settlementDomain(ctx.chainId, ctx.settlement), types: voucherTypes, primaryType: "Voucher", message: voucher });
}

/** Signs a voucher with the session key (a viem local account). */
export async function signVoucher(sessionKey: LocalAccount, ctx: SettlementContext, voucher: Voucher): Promise<Hex> {
  checkVoucher(voucher);
  return sessionKey.signTypedData({ domain: settlementDomain(ctx.chainId, ctx.settlement), types: voucherTypes, primaryType: "Voucher", message: voucher });
}

/**
 * Signs a voucher with `sign`, which signs an EIP-712 digest with the session key: the server's, for the
 * API keys whose session key it holds (lib/chat/secp256k1.ts). The same signature as signVoucher's.
 */
export async function signVoucherWith(sign: (digest: Hex) => Promise<Hex>, ctx: SettlementContext, voucher: Voucher): Promise<Hex> {
  checkVoucher(voucher);
  return sign(voucherDigest(ctx, voucher));
}

/** Whether `signature` over `voucher` is by `key`, in the one form the contract accepts (see signature.ts). */
export async function verifyVoucher(ctx: SettlementContext, voucher: Voucher, signature: Hex, key: Address, recover?: RecoverSigner): Promise<boolean> {
  let digest: Hex;
  try {
    digest = voucherDigest(ctx, voucher);
  } catch {
    return false;
  }
  return isSignedByKey(digest, signature, key, recover);
}

/** The newest voucher's running maxima (none before the session's first query). */
export interface VoucherState {
  seq: bigint;
  slots: bigint[];
  maxAmounts: bigint[];
}

/**
 * The running maxima after one more query that may pay `charges` (slot and its most for this query): the
 * previous slots keep their places, new ones are appended, and each charged slot's maximum grows by its
 * charge. The browser signs this; admission recomputes it and accepts nothing else.
 */
export function nextVoucherState(previous: VoucherState | null, charges: readonly { slot: bigint; max: bigint }[]): VoucherState {
  const slots = [...(previous?.slots ?? [])];
  const maxAmounts = [...(previous?.maxAmounts ?? [])];
  for (const { slot, max } of charges) {
    let i = slots.indexOf(slot);
    if (i < 0) {
      slots.push(slot);
      maxAmounts.push(0n);
      i = slots.length - 1;
    }
    maxAmounts[i] += max;
  }
  return { seq: (previous?.seq ?? 0n) + 1n, slots, maxAmounts };
}
