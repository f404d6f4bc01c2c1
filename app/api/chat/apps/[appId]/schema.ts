import { z } from "@/lib/zod";

/** A Listing id. */
export const appIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a listing id");
