// Vouchers: the session key signs one per query (no wallet pop-up). Each carries the account's running
// maximum (the payer's account with this operator, over all its sessions), so the operator settles only the
// newest voucher of an account, with the actual amounts.
import { bytesToHex, domainSeparator, encodeAbiParameters, hashTypedData, hexToBytes, keccak256, numberToBytes, toBytes, type Address, type Hex, type LocalAccount } from "viem";
import { LIMITS, settlementDomain, voucherTypes } from "./eip712";
import { viemKeccak256, type Keccak256 } from "./keccak";
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
export function chargesHash(charges: readonly SlotMax[], keccak: Keccak256 = viemKeccak256): Hex {
  return bytesToHex(
    keccak(
      hexToBytes(
        encodeAbiParameters(
          [{ type: "uint256[]" }, { type: "uint256[]" }],
          [charges.map((c) => c.slot), charges.map((c) => c.max)],
        ),
      ),
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

/** The EIP-712 type hash of Voucher: keccak256 of its encoded type, "Voucher(bytes32 session,uint256 seq,…)". */
const VOUCHER_TYPE_HASH = hexToBytes(keccak256(toBytes(`Voucher(${voucherTypes.Voucher.map((f) => `${f.type} ${f.name}`).join(",")})`)));

/** Domain separators by chain and settlement contract (a server has one; a browser one per chain it meets). */
const domainSeparators = new Map<string, Uint8Array>();

function settlementSeparator(ctx: SettlementContext): Uint8Array {
  // Keyed by the address as given: viem validates it (its checksum) whenever a separator is made.
  const key = `${ctx.chainId}:${ctx.settlement}`;
  let separator = domainSeparators.get(key);
  if (!separator) {
    separator = hexToBytes(domainSeparator({ domain: settlementDomain(ctx.chainId, ctx.settlement) }));
    if (domainSeparators.size >= 16) domainSeparators.clear();
    domainSeparators.set(key, separator);
  }
  return separator;
}

/** A bytes32 field as its 32 bytes; throws unless it is 0x and 64 hex digits. */
function bytes32(value: Hex, name: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new RangeError(`${name} must be 32 bytes`);
  return hexToBytes(value);
}

/**
 * The digest the session key signs: EIP-712's keccak256(0x1901 ‖ domain separator ‖ struct hash), the
 * struct hash being keccak256 of the type hash and the five fields, each one 32-byte word (Voucher has
 * only static fields). The same bytes as viem's hashTypedData (voucherDigestReference), which a test
 * holds it to for valid and invalid vouchers alike, in a fraction of its time: viem re-derives and
 * re-validates the types and the domain on every call.
 */
export function voucherDigest(ctx: SettlementContext, voucher: Voucher, keccak: Keccak256 = viemKeccak256): Hex {
  const struct = new Uint8Array(6 * 32);
  struct.set(VOUCHER_TYPE_HASH, 0);
  struct.set(bytes32(voucher.session, "session"), 32);
  // numberToBytes throws for a value outside uint256, as hashTypedData does.
  struct.set(numberToBytes(voucher.seq, { size: 32 }), 64);
  struct.set(numberToBytes(voucher.issuedAt, { size: 32 }), 96);
  struct.set(numberToBytes(voucher.cumulativeMax, { size: 32 }), 128);
  struct.set(bytes32(voucher.charges, "charges"), 160);
  const message = new Uint8Array(2 + 32 + 32);
  message[0] = 0x19;
  message[1] = 0x01;
  message.set(settlementSeparator(ctx), 2);
  message.set(keccak(struct), 34);
  return bytesToHex(keccak(message));
}

/** The digest through viem's hashTypedData: the plain reference voucherDigest is tested against. */
export function voucherDigestReference(ctx: SettlementContext, voucher: Voucher): Hex {
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
export async function signVoucherWith(sign: (digest: Hex) => Promise<Hex>, ctx: SettlementContext, voucher: Voucher, keccak: Keccak256 = viemKeccak256): Promise<Hex> {
  checkVoucher(voucher);
  return sign(voucherDigest(ctx, voucher, keccak));
}

/** Whether `signature` over `voucher` is by `key`, in the one form the server accepts (see signature.ts). */
export async function verifyVoucher(
  ctx: SettlementContext,
  voucher: Voucher,
  signature: Hex,
  key: Address,
  recover?: RecoverSigner,
  keccak: Keccak256 = viemKeccak256,
): Promise<boolean> {
  let digest: Hex;
  try {
    checkVoucher(voucher);
    digest = voucherDigest(ctx, voucher, keccak);
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
export function nextVoucherFields(
  previous: AccountPosition,
  charges: readonly SlotMax[],
  keccak: Keccak256 = viemKeccak256,
): { seq: bigint; cumulativeMax: bigint; charges: Hex } {
  const total = charges.reduce((sum, c) => sum + c.max, 0n);
  return { seq: previous.seq + 1n, cumulativeMax: previous.cumulativeMax + total, charges: chargesHash(charges, keccak) };
}
