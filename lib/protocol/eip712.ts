// EIP-712 domain and types of KipSettlement. Shared by browser and server: viem only.
import type { Address, TypedDataDomain } from "viem";

export const SETTLEMENT_DOMAIN_NAME = "KIP Settlement";
export const SETTLEMENT_DOMAIN_VERSION = "1";

/** The settlement contract's EIP-712 domain: a signature is valid on one chain and one deployment only. */
export function settlementDomain(chainId: number, settlement: Address): TypedDataDomain {
  return { name: SETTLEMENT_DOMAIN_NAME, version: SETTLEMENT_DOMAIN_VERSION, chainId, verifyingContract: settlement };
}

/** Signed once by the payer's wallet: authorizes `key` to sign receipts up to `spendCap` until `expiry`. */
export const sessionTypes = {
  Session: [
    { name: "payer", type: "address" },
    { name: "key", type: "address" },
    { name: "spendCap", type: "uint256" },
    { name: "expiry", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

/** Signed by the session key for every query: pay at most maxAmounts[i] to slots[i]. */
export const receiptTypes = {
  Receipt: [
    { name: "payer", type: "address" },
    { name: "slots", type: "uint256[]" },
    { name: "maxAmounts", type: "uint256[]" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** Widths of the packed batch format (docs/settlement-format.md): signed values must fit them. */
/**
 * A decimal string field the settlement contract accepts: at most `max` (the width of its slot in the
 * packed batch). Admission checks every field against these, so nothing it stores can make a batch
 * unencodable (docs/settlement-format.md).
 */
export function fitsLimit(value: string, max: bigint): boolean {
  return /^\d{1,78}$/.test(value) && BigInt(value) <= max;
}

export const LIMITS = {
  spendCap: (1n << 128n) - 1n,
  expiry: (1n << 40n) - 1n,
  sessionNonce: (1n << 64n) - 1n,
  receiptNonce: (1n << 64n) - 1n,
  deadline: (1n << 40n) - 1n,
  slotId: (1n << 64n) - 1n,
  amount: (1n << 96n) - 1n,
} as const;
