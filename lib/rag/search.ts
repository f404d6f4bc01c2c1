// Retrieval over datasets: one BM25 index per dataset, built from its chunks on first use and kept in
// this process's memory until the dataset's indexVersion in the database changes (ingestion bumps it, on
// whichever app server it runs). The versions are read on every query, one statement for all datasets,
// so a document indexed through one server is searched by every other from its next query on. The
// documents' file names are kept beside the index (they cannot change within one version), so a query's
// sources need no further read. Only the documents of the dataset's current version are indexed
// (lib/datasets/versions.ts: a version's change bumps indexVersion too), and each passage names it.
import type { Db } from "@/lib/db-client";
import { Bm25Index, sharedStats } from "./bm25";

export interface RetrievedChunk {
  chunkId: string;
  datasetId: string;
  documentId: string;
  documentName: string;
  position: number;
  text: string;
  score: number;
  /** The dataset version the passage was retrieved from. */
  datasetVersion: number;
}

interface CachedIndex {
  version: number;
  /** The dataset version (Dataset.version) the index holds. */
  datasetVersion: number;
  index: Bm25Index;
  chunks: { id: string; documentId: string; position: number; text: string }[];
  /** File names of the dataset's documents, by id. */
  documentNames: Map<string, string>;
}

const cache = new Map<string, { version: number; index: Promise<CachedIndex> }>();

async function loadIndex(db: Db, datasetId: string, version: number, datasetVersion: number): Promise<CachedIndex> {
  const [chunks, documents] = await Promise.all([
    db.chunk.findMany({
      // Documents a newer version is adding are left out until that version is published.
      where: { datasetId, document: { addedInVersion: { lte: datasetVersion } } },
      select: { id: true, documentId: true, position: true, text: true },
      orderBy: [{ documentId: "asc" }, { position: "asc" }],
    }),
    db.document.findMany({ where: { datasetId }, select: { id: true, filename: true } }),
  ]);
  return {
    version,
    datasetVersion,
    index: new Bm25Index(chunks.map((chunk) => chunk.text)),
    chunks,
    documentNames: new Map(documents.map((d) => [d.id, d.filename])),
  };
}

type Versions = { version: number; datasetVersion: number };

/** The current index and dataset versions of `datasetIds`, in one query. */
async function indexVersions(db: Db, datasetIds: readonly string[]): Promise<Map<string, Versions>> {
  const rows = await db.dataset.findMany({ where: { listingId: { in: [...datasetIds] } }, select: { listingId: true, indexVersion: true, version: true } });
  return new Map(rows.map((r) => [r.listingId, { version: r.indexVersion, datasetVersion: r.version }]));
}

function cachedIndex(db: Db, datasetId: string, versions: Versions | undefined): Promise<CachedIndex> {
  if (versions === undefined) throw new Error(`no dataset ${datasetId}`);
  const { version, datasetVersion } = versions;
  const cached = cache.get(datasetId);
  if (cached?.version === version) return cached.index;
  const loading = loadIndex(db, datasetId, version, datasetVersion);
  cache.set(datasetId, { version, index: loading });
  loading.catch(() => {
    if (cache.get(datasetId)?.index === loading) cache.delete(datasetId);
  });
  return loading;
}

/** The dataset's index, rebuilt only when its indexVersion moved. Concurrent callers share one build. */
export async function datasetIndex(db: Db, datasetId: string): Promise<CachedIndex> {
  return cachedIndex(db, datasetId, (await indexVersions(db, [datasetId])).get(datasetId));
}

/** Top-k chunks for `query` across `datasetIds`, best first. */
export async function searchDatasets(db: Db, datasetIds: readonly string[], query: string, k: number): Promise<RetrievedChunk[]> {
  const versions = await indexVersions(db, datasetIds);
  const loaded = await Promise.all(datasetIds.map((datasetId) => cachedIndex(db, datasetId, versions.get(datasetId))));
  // One ranking across the datasets: every index scores with the statistics of all of them together.
  const stats = sharedStats(loaded.map((l) => l.index));
  const perDataset = loaded.map(({ index, chunks, documentNames, datasetVersion }, i) =>
    index.search(query, k, stats).map((hit) => {
      const chunk = chunks[hit.index];
      const documentName = documentNames.get(chunk.documentId) ?? "document";
      return { chunkId: chunk.id, datasetId: datasetIds[i], documentId: chunk.documentId, documentName, position: chunk.position, text: chunk.text, score: hit.score, datasetVersion };
    }),
  );
  return perDataset.flat().sort((a, b) => b.score - a.score).slice(0, k);
}

/**
 * Cache an index built from chunks already in memory (ingestion has just written them), so the dataset's
 * first query does not read them back. `chunks` must be all of the dataset's chunks at `version`, and `documentNames` its documents' names.
 * Ingestion primes only a dataset's first full indexing, which is its version 1.
 */
export function primeDatasetIndex(datasetId: string, version: number, chunks: CachedIndex["chunks"], documentNames: Map<string, string>, datasetVersion = 1): void {
  cache.set(datasetId, { version, index: Promise.resolve({ version, datasetVersion, index: new Bm25Index(chunks.map((chunk) => chunk.text)), chunks, documentNames }) });
}

/** Drop cached indexes (tests, or after deleting a dataset). */
export function clearSearchCache(datasetId?: string): void {
  if (datasetId) cache.delete(datasetId);
  else cache.clear();
}
