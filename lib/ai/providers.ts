// The language model (and optional embeddings model) behind a model listing: the built-in offline
// extractive model, or an OpenAI-compatible endpoint whose API key is decrypted here, on the server,
// for the call only. Tests point a listing's baseUrl at a local stand-in server; nothing here knows.
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
  /** "offline" for the extractive model; its answers are quotes, not generated text. */
  kind: "offline" | "openai-compatible";
}

/** `fetch`: how to reach the endpoint (the server passes its outbound-policy fetch, lib/net/model-fetch.ts). */
export function resolveModel(endpoint: ModelEndpointRecord, encryptionKey: string, { fetch }: { fetch?: typeof globalThis.fetch } = {}): ResolvedModel {
  if (endpoint.provider === "offline") {
    return { model: new OfflineExtractiveModel(), embeddings: null, kind: "offline" };
  }
  if (endpoint.provider !== "openai-compatible") {
    throw new Error(`unknown model provider "${endpoint.provider}"`);
  }
  if (!endpoint.baseUrl) throw new Error("this model listing has no endpoint URL");
  const apiKey = endpoint.apiKeyEncrypted
    ? decryptString(endpoint.apiKeyEncrypted, encryptionKey, modelApiKeyAad(endpoint.listingId))
    : undefined;
  const provider = createOpenAICompatible({ name: "model-listing", baseURL: endpoint.baseUrl, apiKey, includeUsage: true, fetch });
  return {
    model: provider.chatModel(endpoint.modelName),
    embeddings: endpoint.embeddingsModel ? provider.embeddingModel(endpoint.embeddingsModel) : null,
    kind: "openai-compatible",
  };
}

