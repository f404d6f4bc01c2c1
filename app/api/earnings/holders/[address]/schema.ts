import { getAddress, isAddress } from "viem";
import { z } from "@/lib/zod";

export const holderParamsSchema = z.object({
  address: z
    .string()
    .refine((value) => isAddress(value, { strict: false }), "must be a 0x-prefixed 20-byte address")
    .transform((value) => getAddress(value)),
});
