import { datasetFieldsSchema } from "@/lib/listings/schemas";
import { z } from "@/lib/zod";
import { DATASET_LIMITS } from "@/lib/rag/limits";

/** POST /api/datasets (multipart/form-data): these text fields, plus one or more `files`. */
export const datasetFormSchema = datasetFieldsSchema;

/** POST /api/datasets (application/json): the same fields, and the ids of finished resumable uploads. */
export const datasetFromUploadsSchema = datasetFieldsSchema.extend({
  uploads: z
    .array(z.string().regex(/^[0-9a-f]{32}$/, "must be upload ids from /api/uploads"))
    .min(1, "add at least one file")
    .max(DATASET_LIMITS.maxFiles)
    .refine((ids) => new Set(ids).size === ids.length, "an upload is named twice"),
});
