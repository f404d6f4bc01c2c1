import { z } from "@/lib/zod";
import { DATASET_LIMITS } from "@/lib/rag/limits";

/** POST /api/datasets/:id/documents: the ids of finished resumable uploads (files and archives) to add. */
export const addDocumentsSchema = z.object({
  uploads: z
    .array(z.string().regex(/^[0-9a-f]{32}$/, "must be upload ids from /api/uploads"))
    .min(1, "add at least one file")
    .max(DATASET_LIMITS.maxFiles)
    .refine((ids) => new Set(ids).size === ids.length, "an upload is named twice"),
});
