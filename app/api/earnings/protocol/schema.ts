import { z } from "@/lib/zod";

export const protocolQuerySchema = z.object({
  top: z.coerce.number().int().min(1).max(50).default(10),
});
