// Retrieval over datasets: one BM25 index per dataset, built from its chunks on first use and kept in
// memory until the dataset's indexVersion changes (ingestion bumps it).
import type { Db } from "@/lib/db-client";
import { direct } from "@/lib/db-direct";
import { Bm25Index } from "./bm25";

export interface RetrievedChunk {
  chunkId: string;
  datasetId: string;
  documentId: string;
  position: number;
  text: string;
  score: number;
}

interface CachedIndex {
  version: number;
  index: Bm25Index;
  chunks: { id: string; documentId: string; position: number; text: string }[];
}

const cache = new Map<string, Promise<CachedIndex>>();

async function loadIndex(db: Db, datasetId: string, version: number): Promise<CachedIndex> {
  const chunks = await db.chunk.findMany({
    where: { datasetId },
    select: { id: true, documentId: true, position: true, text: true },
    orderBy: [{ documentId: "asc" }, { position: "asc" }],
  });
  return { version, index: new Bm25Index(chunks.map((chunk) => chunk.text)), chunks };
}

/** The dataset's index, rebuilt only when its indexVersion moved. Concurrent callers share one build. */
export async function datasetIndex(db: Db, datasetId: string): Promise<CachedIndex> {
  // Checked on every query, so read through a prepared statement (lib/db-direct.ts).
  const dataset = await direct(db, (d) =>
    d.prepare(`SELECT "indexVersion" FROM "Dataset" WHERE "listingId" = ?`).get(datasetId) as { indexVersion: number } | undefined,
  );
  if (!dataset) throw new Error(`no dataset ${datasetId}`);
  const cached = cache.get(datasetId);
  if (cached) {
    const ready = await cached.catch(() => undefined);
    if (ready && ready.version === dataset.indexVersion) return ready;
  }
  const loading = loadIndex(db, datasetId, dataset.indexVersion);
  cache.set(datasetId, loading);
  loading.catch(() => cache.delete(datasetId));
  return loading;
}

/** Top-k chunks for `query` across `datasetIds`, best first. */
export async function searchDatasets(db: Db, datasetIds: readonly string[], query: string, k: number): Promise<RetrievedChunk[]> {
  const perDataset = await Promise.all(
    datasetIds.map(async (datasetId) => {
      const { index, chunks } = await datasetIndex(db, datasetId);
      return index.search(query, k).map((hit) => {
        const chunk = chunks[hit.index];
        return { chunkId: chunk.id, datasetId, documentId: chunk.documentId, position: chunk.position, text: chunk.text, score: hit.score };
      });
    }),
  );
  return perDataset.flat().sort((a, b) => b.score - a.score).slice(0, k);
}

/**
 * Cache an index built from chunks already in memory (ingestion has just written them), so the dataset's
 * first query does not read them back. `chunks` must be all of the dataset's chunks at `version`.
 */
export function primeDatasetIndex(datasetId: string, version: number, chunks: CachedIndex["chunks"]): void {
  cache.set(datasetId, Promise.resolve({ version, index: new Bm25Index(chunks.map((chunk) => chunk.text)), chunks }));
}

/** Drop cached indexes (tests, or after deleting a dataset). */
export function clearSearchCache(datasetId?: string): void {
  if (datasetId) cache.delete(datasetId);
  else cache.clear();
}
