// EIP-712 domain and types of KipSettlement v3. Shared by browser and server: viem only.
import type { Address, TypedDataDomain } from "viem";

export const SETTLEMENT_DOMAIN_NAME = "KIP Settlement";
export const SETTLEMENT_DOMAIN_VERSION = "3";

/** The settlement contract's EIP-712 domain: a signature is valid on one chain and one deployment only. */
export function settlementDomain(chainId: number, settlement: Address): TypedDataDomain {
  return { name: SETTLEMENT_DOMAIN_NAME, version: SETTLEMENT_DOMAIN_VERSION, chainId, verifyingContract: settlement };
}

/**
 * Signed once by the payer's wallet: `key` may sign vouchers for this session, which only `operator` (the
 * server's settlement account) can settle while the account's cumulative charged total (over all its
 * sessions with that operator) stays within `spendCap`, for vouchers issued until `expiry`.
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
 * Signed by the session key for every query. `seq` counts the account's queries (the account is the payer
 * with this operator, over all its sessions); `cumulativeMax` is the most the account's cumulative charged
 * total may be once this query is paid; `charges` commits this query's own per-slot maxima
 * (`chargesHash`).
 */
export const voucherTypes = {
  Voucher: [
    { name: "session", type: "bytes32" },
    { name: "seq", type: "uint256" },
    { name: "issuedAt", type: "uint256" },
    { name: "cumulativeMax", type: "uint256" },
    { name: "charges", type: "bytes32" },
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
  /** A session's cap on the account's cumulative charged total (the batch's 12 bytes). */
  spendCap: (1n << 96n) - 1n,
  expiry: (1n << 40n) - 1n,
  sessionNonce: (1n << 64n) - 1n,
  /** The account's query number (5 bytes). */
  seq: (1n << 40n) - 1n,
  issuedAt: (1n << 40n) - 1n,
  slotId: (1n << 64n) - 1n,
  /** One query's amount to one slot (a record's uint64). */
  amount: (1n << 64n) - 1n,
  /** A voucher's cumulative maximum (12 bytes, like the account's charged total). */
  cumulative: (1n << 96n) - 1n,
  /** A query's token count in one direction (a record's 3 bytes). */
  tokens: (1n << 24n) - 1n,
  /** Slots one query may charge (a record's 1-byte count). */
  recordCharges: 255,
  /** Distinct slots one settlement may name (the batch's slot table, indexed by one byte). */
  batchSlots: 256,
  /** Longest wallet signature of a session the server accepts (smart wallets' can be long). */
  sessionSignatureBytes: 1024,
} as const;
