import { LIMITS, fitsLimit } from "@/lib/protocol";
import { listingIdSchema } from "@/lib/http/route";
import { z } from "@/lib/zod";

const amount = z.string().refine((value) => fitsLimit(value, LIMITS.spendCap) && BigInt(value) > 0n, "must be a positive integer of base units as a decimal string");

export const newKeySchema = z.object({
  name: z.string().trim().min(1, "must not be empty").max(60),
  /** Spend caps in payment-token base units. */
  dailyCap: amount,
  monthlyCap: amount,
  totalCap: amount,
  /** unix seconds */
  expiresAt: z.number().int().positive(),
  /** App listing ids the key may call; empty: every app. */
  allowedApps: z.array(listingIdSchema).max(50).default([]),
});

export const keySessionSchema = z.object({
  /** The wallet's EIP-712 signature of the key's Session (65 bytes for an EOA, longer for contract wallets). */
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]{2,}$/, "must be a hex signature")
    .refine((hex) => hex.length % 2 === 0 && (hex.length - 2) / 2 <= LIMITS.sessionSignatureBytes, `must be 1 to ${LIMITS.sessionSignatureBytes} bytes`),
});
