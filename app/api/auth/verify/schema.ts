import { z } from "@/lib/zod";

export const verifyBodySchema = z.object({
  /** The EIP-4361 message exactly as signed. */
  message: z.string().min(1).max(4096),
  /** 65-byte ECDSA signature, or a longer one from a contract wallet (ERC-1271 / ERC-6492). */
  signature: z.string().regex(/^0x[0-9a-fA-F]{130,}$/, "must be a 0x-prefixed hex signature").max(20_000),
});

export type VerifyBody = z.infer<typeof verifyBodySchema>;
