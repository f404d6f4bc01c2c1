// Bulk writes of ingestion. Chunks are most of what ingestion writes, so a document's chunks go in as one
// INSERT … SELECT FROM unnest(…) with one array parameter per column: one statement and five parameters
// however many chunks there are (createMany would send a statement per few thousand rows, with five
// parameters per row).
import type { Db } from "@/lib/db-client";

export interface StoredDocumentRow {
  id: string;
  datasetId: string;
  filename: string;
  mimeType: string;
  bytes: number;
  sha256: string;
  content: Uint8Array;
  position: number;
}

export async function insertDocuments(db: Db, rows: readonly StoredDocumentRow[]): Promise<void> {
  await db.document.createMany({ data: rows.map((r) => ({ ...r, content: Uint8Array.from(r.content) })) });
}

export interface ChunkRow {
  id: string;
  documentId: string;
  position: number;
  text: string;
}

/**
 * One document's chunks, its "indexed" mark and the dataset's progress counters, in one transaction:
 * a run that stops half-way leaves the document unindexed, never half-chunked.
 */
export function writeDocumentChunks(
  db: Db,
  { datasetId, documentId, bytes, chunks }: { datasetId: string; documentId: string; bytes: number; chunks: readonly ChunkRow[] },
): Promise<{ bytesIndexed: number; bytesTotal: number; chunkCount: number; indexVersion: number }> {
  return db.$transaction(async (tx) => {
    const marked = await tx.document.updateMany({ where: { id: documentId, indexedAt: null }, data: { indexedAt: new Date() } });
    if (marked.count !== 1) throw new Error(`document ${documentId} is already indexed`);
    if (chunks.length) {
      await tx.$executeRaw`
        INSERT INTO "Chunk" ("id", "datasetId", "documentId", "position", "text")
        SELECT id, ${datasetId}, ${documentId}, position, text
        FROM unnest(${chunks.map((c) => c.id)}::text[], ${chunks.map((c) => c.position)}::int[], ${chunks.map((c) => c.text)}::text[]) AS c(id, position, text)`;
    }
    return tx.dataset.update({
      where: { listingId: datasetId },
      data: { bytesIndexed: { increment: bytes }, chunkCount: { increment: chunks.length }, indexVersion: { increment: 1 } },
      select: { bytesIndexed: true, bytesTotal: true, chunkCount: true, indexVersion: true },
    });
  }, { timeout: 60_000 });
}
