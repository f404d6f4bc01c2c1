import { LIMITS, fitsLimit } from "@/lib/protocol";

const MAX_SESSION_SIGNATURE_BYTES = LIMITS.sessionSignatureBytes;
import { z } from "@/lib/zod";

// Every field is checked against exactly what KipSettlement accepts (docs/settlement-format.md):
// a session stored here can always be encoded into a settlement.
const uint = (max: bigint, width: string) =>
  z.string().refine((value) => fitsLimit(value, max), `must be a non-negative integer as a decimal string, at most ${width}`);
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address");

export const sessionBodySchema = z.object({
  payer: address,
  /** The browser-held session key's address. */
  key: address,
  /** The account that will settle it: must be this server's operator. */
  operator: address,
  spendCap: uint(LIMITS.spendCap, "2^96 - 1"),
  expiry: uint(LIMITS.expiry, "2^40 - 1"),
  nonce: uint(LIMITS.sessionNonce, "2^64 - 1"),
  /** The wallet's EIP-712 signature of the Session (65 bytes for an EOA, longer for contract wallets). */
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]{2,}$/, "must be a hex signature")
    .refine((hex) => hex.length % 2 === 0 && (hex.length - 2) / 2 <= MAX_SESSION_SIGNATURE_BYTES, `must be 1 to ${MAX_SESSION_SIGNATURE_BYTES} bytes`),
});

export const revokeBodySchema = z.object({
  /** The session's id (its EIP-712 struct hash). */
  hash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 32-byte hex hash"),
});
