// EIP-712 domain and types of KipSettlement v2. Shared by browser and server: viem only.
import type { Address, TypedDataDomain } from "viem";

export const SETTLEMENT_DOMAIN_NAME = "KIP Settlement";
export const SETTLEMENT_DOMAIN_VERSION = "2";

/** The settlement contract's EIP-712 domain: a signature is valid on one chain and one deployment only. */
export function settlementDomain(chainId: number, settlement: Address): TypedDataDomain {
  return { name: SETTLEMENT_DOMAIN_NAME, version: SETTLEMENT_DOMAIN_VERSION, chainId, verifyingContract: settlement };
}

/**
 * Signed once by the payer's wallet: `key` may sign vouchers for this session, which only `operator` (the
 * server's settlement account) can settle, up to `spendCap` in total, for vouchers issued until `expiry`.
 */
export const sessionTypes = {
  Session: [
    { name: "payer", type: "address" },
    { name: "key", type: "address" },
    { name: "operator", type: "address" },
    { name: "spendCap", type: "uint256" },
    { name: "expiry", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

/**
 * Signed by the session key for every query: the session's running maxima. `seq` counts the session's
 * queries; `slots` lists every slot the session has charged so far (append-only) and `maxAmounts[i]` is the
 * most `slots[i]` may receive over the whole session up to this query.
 */
export const voucherTypes = {
  Voucher: [
    { name: "session", type: "bytes32" },
    { name: "seq", type: "uint256" },
    { name: "issuedAt", type: "uint256" },
    { name: "slots", type: "uint256[]" },
    { name: "maxAmounts", type: "uint256[]" },
  ],
} as const;

/**
 * A decimal string field the settlement contract accepts: at most `max`. Admission checks every field
 * against these, so nothing it stores can make a settlement unencodable (docs/settlement-format.md).
 */
export function fitsLimit(value: string, max: bigint): boolean {
  return /^\d{1,78}$/.test(value) && BigInt(value) <= max;
}

/** What KipSettlement accepts (docs/settlement-format.md); the server refuses anything wider. */
export const LIMITS = {
  spendCap: (1n << 128n) - 1n,
  expiry: (1n << 40n) - 1n,
  sessionNonce: (1n << 64n) - 1n,
  seq: (1n << 64n) - 1n,
  issuedAt: (1n << 40n) - 1n,
  slotId: (1n << 64n) - 1n,
  /** One query's amount to one slot (a record's uint64). */
  amount: (1n << 64n) - 1n,
  /** A cumulative maximum (kept below the spend cap's width). */
  cumulative: (1n << 128n) - 1n,
  tokens: (1n << 32n) - 1n,
  /** Slots one session may charge (the record's 32-bit mask). */
  sessionSlots: 32,
  /** Longest wallet signature of a session the server accepts (smart wallets' can be long). */
  sessionSignatureBytes: 1024,
} as const;
