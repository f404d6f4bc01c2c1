// Vouchers: the session key signs one per query (no wallet pop-up). Each carries the account's running
// maximum (the payer's account with this operator, over all its sessions), so the operator settles only the
// newest voucher of an account, with the actual amounts.
import { encodeAbiParameters, hashTypedData, keccak256, type Address, type Hex, type LocalAccount } from "viem";
import { LIMITS, settlementDomain, voucherTypes } from "./eip712";
import type { SettlementContext } from "./session";
import { isSignedByKey, type RecoverSigner } from "./signature";

export interface Voucher {
  /** The id (EIP-712 struct hash) of the session whose key signs it. */
  session: Hex;
  /** The account's query number: one more per query, over all the account's sessions. */
  seq: bigint;
  issuedAt: bigint;
  /** The most the account's cumulative charged total may be once this query is paid. */
  cumulativeMax: bigint;
  /** `chargesHash` of this query's own maxima per slot. */
  charges: Hex;
}

/** One query's most per slot, in the charge set's order (app, model, datasets). */
export interface SlotMax {
  slot: bigint;
  max: bigint;
}

/** What a voucher commits of its query's maxima: `keccak256(abi.encode(uint256[] slots, uint256[] maxAmounts))`. */
export function chargesHash(charges: readonly SlotMax[]): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256[]" }, { type: "uint256[]" }],
      [charges.map((c) => c.slot), charges.map((c) => c.max)],
    ),
  );
}

/** Throws unless the voucher fits what KipSettlement accepts. */
export function checkVoucher(voucher: Voucher): void {
  if (voucher.seq <= 0n || voucher.seq > LIMITS.seq) throw new RangeError("seq must be 1..2^40-1");
  if (voucher.issuedAt < 0n || voucher.issuedAt > LIMITS.issuedAt) throw new RangeError("issuedAt must fit uint40");
  if (voucher.cumulativeMax < 0n || voucher.cumulativeMax > LIMITS.cumulative) throw new RangeError("cumulativeMax must fit uint96");
  if (!/^0x[0-9a-fA-F]{64}$/.test(voucher.charges)) throw new RangeError("charges must be 32 bytes");
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

/** Whether `signature` over `voucher` is by `key`, in the one form the server accepts (see signature.ts). */
export async function verifyVoucher(ctx: SettlementContext, voucher: Voucher, signature: Hex, key: Address, recover?: RecoverSigner): Promise<boolean> {
  let digest: Hex;
  try {
    checkVoucher(voucher);
    digest = voucherDigest(ctx, voucher);
  } catch {
    return false;
  }
  return isSignedByKey(digest, signature, key, recover);
}

/** Where an account's vouchers stand: the newest seq and cumulative maximum admitted (0 and 0 before any). */
export interface AccountPosition {
  seq: bigint;
  cumulativeMax: bigint;
}

/**
 * The voucher fields of one more query that may pay `charges`: the next seq, the cumulative maximum grown
 * by this query's maxima, and their hash. The browser signs this; admission recomputes it and accepts
 * nothing else.
 */
export function nextVoucherFields(previous: AccountPosition, charges: readonly SlotMax[]): { seq: bigint; cumulativeMax: bigint; charges: Hex } {
  const total = charges.reduce((sum, c) => sum + c.max, 0n);
  return { seq: previous.seq + 1n, cumulativeMax: previous.cumulativeMax + total, charges: chargesHash(charges) };
}
