import { z } from "@/lib/zod";
import { MAX_TOP_K } from "@/lib/listings/schemas";

export const searchBodySchema = z.object({
  query: z.string().trim().min(1, "is required").max(1000),
  k: z.number().int().min(1).max(MAX_TOP_K * 4).default(5),
});
