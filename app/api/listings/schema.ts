import { z } from "@/lib/zod";
import { KINDS, SORTS } from "@/lib/listings/catalog-query";

/** GET /api/listings query string. */
export const listQuerySchema = z.object({
  q: z.string().trim().max(200).optional(),
  kind: z.enum(KINDS).optional(),
  sort: z.enum(SORTS).optional(),
  creator: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address").optional(),
  /** "1": the caller's own listings, drafts included (needs a session). */
  mine: z.enum(["1", "true"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(60),
  offset: z.coerce.number().int().min(0).default(0),
});
