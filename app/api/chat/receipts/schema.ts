import { z } from "@/lib/zod";

/** ?ids=a,b,c: up to 50 receipt ids. */
export const receiptsQuerySchema = z.object({
  ids: z
    .string()
    .max(2000)
    .transform((value) => value.split(",").filter(Boolean))
    .pipe(z.array(z.string().regex(/^[a-z0-9]{8,40}$/, "must be receipt ids")).min(1).max(50)),
});
