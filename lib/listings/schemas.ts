// Input rules for listings, shared by the API route schemas and the create forms (so a form says
// exactly what the server will accept). No server-only imports.
import { z } from "@/lib/zod";

/** Highest price per query accepted, in whole payment tokens. */
export const MAX_PRICE_TOKENS = 1000;
export const MAX_TOP_K = 12;
export const MAX_APP_DATASETS = 8;

export const priceSchema = z
  .string()
  .trim()
  .regex(/^\d{1,9}(\.\d{1,18})?$/, "must be a decimal number such as 0.002")
  .refine((value) => Number(value) <= MAX_PRICE_TOKENS, `must be at most ${MAX_PRICE_TOKENS} per query`);

/** A price per 1,000 tokens in whole payment tokens; empty means 0 (the model is priced per query only). */
export const tokenPriceSchema = z.preprocess(
  (value) => (value === undefined || value === null || (typeof value === "string" && value.trim() === "") ? "0" : value),
  z
    .string()
    .trim()
    .regex(/^\d{1,9}(\.\d{1,18})?$/, "must be a decimal number such as 0.0005")
    .refine((value) => Number(value) <= MAX_PRICE_TOKENS, `must be at most ${MAX_PRICE_TOKENS} per 1,000 tokens`),
);

export const tagSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} -]{0,31}$/u, "tags are 1-32 letters, digits, spaces or dashes");

/** Tags as a list, or as one comma-separated string (form fields). */
export const tagsSchema = z.preprocess(
  (value) =>
    typeof value === "string"
      ? value
          .split(",")
          .map((tag) => tag.trim())
          .filter(Boolean)
      : value,
  z.array(tagSchema).max(8, "at most 8 tags").default([]),
);

export const listingFieldsSchema = z.object({
  name: z.string().trim().min(3, "must be at least 3 characters").max(80, "must be at most 80 characters"),
  description: z.string().trim().min(10, "must be at least 10 characters").max(2000, "must be at most 2,000 characters"),
  tags: tagsSchema,
  /** Price per query in whole payment tokens, e.g. "0.002". */
  price: priceSchema,
});

export const datasetFieldsSchema = listingFieldsSchema.extend({
  license: z.string().trim().min(2, "say under which terms the documents may be used").max(2000),
});

const baseUrlSchema = z
  .url({ protocol: /^https?$/, message: "must be an http(s) URL such as https://api.example.com/v1" })
  .refine((value) => {
    const url = new URL(value);
    return !url.username && !url.password && !url.search && !url.hash;
  }, "must not contain credentials, a query or a fragment (put the API key in its own field)")
  .transform((value) => value.replace(/\/+$/, ""));

export const endpointSchema = z.object({
  baseUrl: baseUrlSchema,
  modelName: z.string().trim().min(1, "is required").max(200),
  apiKey: z.string().trim().max(500).optional(),
});

export const modelFieldsSchema = listingFieldsSchema
  .extend({
    provider: z.enum(["openai-compatible", "offline"]),
    baseUrl: z.string().optional(),
    modelName: z.string().optional(),
    apiKey: z.string().trim().max(500).optional(),
    embeddingsModel: z.string().trim().max(200).optional(),
    /** Whole payment tokens per 1,000 input / output tokens, on top of the price per query. */
    pricePerKInput: tokenPriceSchema,
    pricePerKOutput: tokenPriceSchema,
  })
  .transform((value, ctx) => {
    if (value.provider === "offline") {
      return { ...value, baseUrl: undefined, modelName: undefined, apiKey: undefined, embeddingsModel: undefined };
    }
    const endpoint = endpointSchema.safeParse({ baseUrl: value.baseUrl, modelName: value.modelName, apiKey: value.apiKey });
    if (!endpoint.success) {
      for (const issue of endpoint.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return { ...value, ...endpoint.data, apiKey: endpoint.data.apiKey || undefined, embeddingsModel: value.embeddingsModel || undefined };
  });

export const appFieldsSchema = listingFieldsSchema.extend({
  systemPrompt: z.string().trim().min(10, "must be at least 10 characters").max(8000, "must be at most 8,000 characters"),
  modelId: z.string().regex(/^[a-z0-9]{20,40}$/, "pick a model"),
  datasetIds: z
    .array(z.string().regex(/^[a-z0-9]{20,40}$/))
    .min(1, "pick at least one dataset")
    .max(MAX_APP_DATASETS, `pick at most ${MAX_APP_DATASETS} datasets`)
    .refine((ids) => new Set(ids).size === ids.length, "a dataset is picked twice"),
  topK: z.coerce.number().int().min(1, "must be at least 1").max(MAX_TOP_K, `must be at most ${MAX_TOP_K}`).default(4),
});

export type ListingFields = z.infer<typeof listingFieldsSchema>;
export type ModelFields = z.infer<typeof modelFieldsSchema>;
export type AppFields = z.infer<typeof appFieldsSchema>;
