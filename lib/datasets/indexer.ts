import "server-only";
// Background indexing of uploaded datasets, in this server process. The state lives in the database
// (Dataset.status, bytesIndexed, chunkCount; Document.indexedAt), so a page reload reads progress from
// the server, and a dataset left "indexing" by a restarted server is picked up again the next time
// anyone asks for its status. Indexing documents added to a listed dataset ends by publishing the
// version that adds them (lib/datasets/versions.ts).
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { indexPendingDocuments, type DocumentStructure } from "@/lib/rag/ingest";
import { publishPendingVersion } from "./versions";

const running = new Map<string, Promise<void>>();

/** Start (or join) indexing of a dataset. `extracted` are the documents extracted at upload, by sha256. */
export function startIndexing(datasetId: string, extracted?: ReadonlyMap<string, DocumentStructure>): Promise<void> {
  const existing = running.get(datasetId);
  if (existing) return existing;
  const db = getDb();
  const job = (async () => {
    try {
      await indexPendingDocuments(db, datasetId, serverEnv().ENCRYPTION_KEY, { extracted });
      // Documents added to a listed dataset become searchable as its next version only now, all together.
      await publishPendingVersion(db, datasetId);
    } catch (error) {
      console.error(`indexing dataset ${datasetId} failed`, error);
      const message = error instanceof Error && error.name === "AppError" ? error.message : "Indexing failed on the server; see its log.";
      await db.dataset
        .update({ where: { listingId: datasetId }, data: { status: "failed", error: message } })
        .catch(() => undefined);
    } finally {
      running.delete(datasetId);
    }
  })();
  running.set(datasetId, job);
  return job;
}

/** Resume a dataset whose indexing was interrupted (its server stopped). */
export function resumeIndexingIfStalled(dataset: { listingId: string; status: string }): void {
  if (dataset.status === "indexing" && !running.has(dataset.listingId)) void startIndexing(dataset.listingId);
}

export function isIndexing(datasetId: string): boolean {
  return running.has(datasetId);
}
