import { appFieldsSchema } from "@/lib/listings/schemas";

/** POST /api/apps: a system prompt, one listed model, listed datasets, top-k, and the app's own price. */
export const appBodySchema = appFieldsSchema;
