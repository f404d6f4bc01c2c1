// The language model (and optional embeddings model) behind a model listing: the built-in offline
// extractive model, or an OpenAI-compatible endpoint whose API key is decrypted here, on the server,
// for the call only. Tests point a listing's baseUrl at a local stand-in server; nothing here knows.
//
// An OpenAI-compatible model object builds its response schemas when it is made, and they build their
// parsers on first use: made per answer, that cost about 1 ms of CPU per paid message on the chat
// benchmark's machine. So each process keeps one model object per endpoint (URL, model names and the
// fetch that reaches it), and the API key, which is not part of it, is decrypted per call and sent as
// that call's Authorization header (`headers`), never kept in the cached object.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import type { EmbeddingModel } from "ai";
import { decryptString, modelApiKeyAad } from "@/lib/crypto";
import { OfflineExtractiveModel } from "./offline-model";

export interface ModelEndpointRecord {
  listingId: string;
  provider: string;
  baseUrl: string | null;
  modelName: string;
  apiKeyEncrypted: string | null;
  embeddingsModel?: string | null;
}

export interface ResolvedModel {
  model: LanguageModelV4;
  /** Set when the listing names an embeddings model on the same endpoint. */
  embeddings: EmbeddingModel | null;
  /** The headers every call to the endpoint sends (the API key's Authorization, when it has one). */
  headers: Record<string, string>;
  /** "offline" for the extractive model; its answers are quotes, not generated text. */
  kind: "offline" | "openai-compatible";
}

type Endpoint = Pick<ResolvedModel, "model" | "embeddings">;

/** Endpoints kept per process, per fetch; past this many the oldest made is dropped. */
export const MAX_CACHED_ENDPOINTS = 256;
const DEFAULT_FETCH = {};
const endpoints = new WeakMap<object, Map<string, Endpoint>>();

/** The model objects of an endpoint, made once per process and fetch (see above). */
function endpointModels(baseURL: string, modelName: string, embeddingsModel: string | null, fetch: typeof globalThis.fetch | undefined): Endpoint {
  let byEndpoint = endpoints.get(fetch ?? DEFAULT_FETCH);
  if (!byEndpoint) endpoints.set(fetch ?? DEFAULT_FETCH, (byEndpoint = new Map()));
  const key = JSON.stringify([baseURL, modelName, embeddingsModel]);
  let made = byEndpoint.get(key);
  if (!made) {
    const provider = createOpenAICompatible({ name: "model-listing", baseURL, includeUsage: true, fetch });
    made = { model: provider.chatModel(modelName), embeddings: embeddingsModel ? provider.embeddingModel(embeddingsModel) : null };
    if (byEndpoint.size >= MAX_CACHED_ENDPOINTS) byEndpoint.delete(byEndpoint.keys().next().value!);
    byEndpoint.set(key, made);
  }
  return made;
}

/** `fetch`: how to reach the endpoint (the server passes its outbound-policy fetch, lib/net/model-fetch.ts). */
export function resolveModel(endpoint: ModelEndpointRecord, encryptionKey: string, { fetch }: { fetch?: typeof globalThis.fetch } = {}): ResolvedModel {
  if (endpoint.provider === "offline") {
    return { model: new OfflineExtractiveModel(), embeddings: null, headers: {}, kind: "offline" };
  }
  if (endpoint.provider !== "openai-compatible") {
    throw new Error(`unknown model provider "${endpoint.provider}"`);
  }
  if (!endpoint.baseUrl) throw new Error("this model listing has no endpoint URL");
  const apiKey = endpoint.apiKeyEncrypted
    ? decryptString(endpoint.apiKeyEncrypted, encryptionKey, modelApiKeyAad(endpoint.listingId))
    : undefined;
  return {
    ...endpointModels(endpoint.baseUrl, endpoint.modelName, endpoint.embeddingsModel ?? null, fetch),
    headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
    kind: "openai-compatible",
  };
}
