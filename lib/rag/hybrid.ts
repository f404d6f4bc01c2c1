// Retrieval for a chat query. BM25 over the app's datasets always; when the model listing offers an
// embeddings model, the BM25 candidates are also ranked by embedding similarity to the question and the
// two rankings are fused with reciprocal-rank fusion (RRF, k = 60), so a passage that both rankings like
// wins over one that only shares rare words with the question. Candidate embeddings are cached per chunk.
import { cosineSimilarity, embedMany, type EmbeddingModel } from "ai";
import type { Db } from "@/lib/db-client";
import { searchDatasets, type IndexVersions, type RetrievedChunk } from "./search";

export const RRF_K = 60;

/**
 * A passage goes into the model's context only if its BM25 score is at least this share of the best
 * passage's: a dataset whose passages merely share a common word with the question is neither quoted
 * nor paid for that query (datasets are paid per query in which their passages are in the context).
 */
export const RELEVANCE_FLOOR = 0.3;

/** The passages relevant enough for the context (see RELEVANCE_FLOOR), best first. */
export function relevantOnly<T extends { score: number }>(ranked: readonly T[], floor = RELEVANCE_FLOOR): T[] {
  const best = ranked.reduce((max, c) => Math.max(max, c.score), 0);
  return ranked.filter((c) => c.score > 0 && c.score >= floor * best);
}
/** BM25 candidates re-ranked by embeddings. */
export const HYBRID_CANDIDATES = 30;

export interface RetrievalResult {
  chunks: RetrievedChunk[];
  mode: "bm25" | "hybrid";
}

const EMBEDDING_CACHE_LIMIT = 20_000;
const embeddingCache = new Map<string, number[]>();

function remember(key: string, vector: number[]) {
  if (embeddingCache.size >= EMBEDDING_CACHE_LIMIT) {
    // Drop the oldest entry (Map keeps insertion order).
    embeddingCache.delete(embeddingCache.keys().next().value as string);
  }
  embeddingCache.set(key, vector);
}

/** Reciprocal-rank fusion of several rankings of the same items (ids), best first. */
export function reciprocalRankFusion(rankings: string[][], k = RRF_K): Map<string, number> {
  const scores = new Map<string, number>();
  for (const ranking of rankings) {
    ranking.forEach((id, rank) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + rank + 1)));
  }
  return scores;
}

export async function retrieve(
  db: Db,
  datasetIds: readonly string[],
  query: string,
  k: number,
  options: {
    embeddings?: EmbeddingModel | null;
    embeddingsKey?: string;
    /** Headers of the embeddings call (the endpoint's API key). */
    embeddingsHeaders?: Record<string, string>;
    abortSignal?: AbortSignal;
    /** The datasets' versions, when the caller has just read them (see searchDatasets). */
    versions?: ReadonlyMap<string, IndexVersions>;
  } = {},
): Promise<RetrievalResult> {
  const { embeddings, embeddingsKey = "default", embeddingsHeaders, abortSignal, versions } = options;
  if (!embeddings) return { chunks: relevantOnly(await searchDatasets(db, datasetIds, query, k, versions)), mode: "bm25" };
  const candidates = relevantOnly(await searchDatasets(db, datasetIds, query, Math.max(k, HYBRID_CANDIDATES), versions));
  if (candidates.length === 0) return { chunks: [], mode: "hybrid" };
  try {
    const missing = candidates.filter((c) => !embeddingCache.has(`${embeddingsKey}:${c.chunkId}`));
    const { embeddings: vectors } = await embedMany({
      model: embeddings,
      values: [query, ...missing.map((c) => c.text)],
      abortSignal,
      headers: embeddingsHeaders,
      maxRetries: 0,
    });
    const queryVector = vectors[0];
    missing.forEach((c, i) => remember(`${embeddingsKey}:${c.chunkId}`, vectors[i + 1]));
    const dense = candidates
      .map((c) => {
        const vector = embeddingCache.get(`${embeddingsKey}:${c.chunkId}`)!;
        return { id: c.chunkId, similarity: cosineSimilarity(queryVector, vector) };
      })
      .sort((a, b) => b.similarity - a.similarity)
      .map((d) => d.id);
    const fused = reciprocalRankFusion([candidates.map((c) => c.chunkId), dense]);
    const byId = new Map(candidates.map((c) => [c.chunkId, c]));
    const chunks = [...fused.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([id, score]) => ({ ...byId.get(id)!, score }));
    return { chunks, mode: "hybrid" };
  } catch (error) {
    if (abortSignal?.aborted) throw error;
    // The embeddings endpoint is down: answer from BM25 rather than not at all.
    console.warn(`embeddings unavailable, using BM25 only: ${error instanceof Error ? error.message : String(error)}`);
    return { chunks: candidates.slice(0, k), mode: "bm25" };
  }
}
