import { z } from "@/lib/zod";

export const slotParamsSchema = z.object({
  slot: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, "must be a slot id (a positive integer)")
    .transform((value) => BigInt(value)),
});
