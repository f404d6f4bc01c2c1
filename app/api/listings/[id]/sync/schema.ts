import { z } from "@/lib/zod";

export const syncBodySchema = z.object({
  txHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte transaction hash").optional(),
});
