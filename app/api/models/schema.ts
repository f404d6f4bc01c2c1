import { modelFieldsSchema } from "@/lib/listings/schemas";

/** POST /api/models: an OpenAI-compatible endpoint (baseUrl, modelName, apiKey?, embeddingsModel?) or "offline". */
export const modelBodySchema = modelFieldsSchema;
