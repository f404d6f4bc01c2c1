// Bulk writes of ingestion. Chunks are most of what ingestion writes, so a group of documents' chunks go in as one
// INSERT … SELECT FROM unnest(…) with one array parameter per column: one statement and seven parameters
// however many chunks there are (createMany would send a statement per few thousand rows, with seven
// parameters per row).
import type { Db } from "@/lib/db-client";

export interface StoredDocumentRow {
  id: string;
  datasetId: string;
  filename: string;
  title: string;
  mimeType: string;
  bytes: number;
  sha256: string;
  content: Uint8Array;
  contentEncoding: "deflate" | "identity";
  position: number;
}

/**
 * Documents go in the same way as chunks: one INSERT … SELECT FROM unnest(…). A createMany would hand the
 * raw files (megabytes per batch) to Prisma's query compiler, which measured 0.8 s of CPU per 16 MB.
 */
export async function insertDocuments(db: Db, rows: readonly StoredDocumentRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.$executeRaw`
    INSERT INTO "Document" ("id", "datasetId", "filename", "title", "mimeType", "bytes", "sha256", "content", "contentEncoding", "position")
    SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.datasetId)}::text[], ${rows.map((r) => r.filename)}::text[], ${rows.map((r) => r.title)}::text[], ${rows.map((r) => r.mimeType)}::text[], ${rows.map((r) => r.bytes)}::int[], ${rows.map((r) => r.sha256)}::text[], ${rows.map((r) => Buffer.from(r.content.buffer, r.content.byteOffset, r.content.byteLength))}::bytea[], ${rows.map((r) => r.contentEncoding)}::text[], ${rows.map((r) => r.position)}::int[])`;
}

export interface ChunkRow {
  id: string;
  documentId: string;
  position: number;
  text: string;
  /** Section path joined by " › " ("" when the document has no headings). */
  section: string;
  page: number | null;
}

/**
 * Some documents' chunks, their "indexed" marks and the dataset's progress counters, in one transaction:
 * a run that stops half-way leaves each document unindexed, never half-chunked.
 */
export function writeDocumentChunks(
  db: Db,
  { datasetId, documents }: { datasetId: string; documents: readonly { documentId: string; bytes: number; chunks: readonly ChunkRow[] }[] },
): Promise<{ bytesIndexed: number; bytesTotal: number; chunkCount: number; indexVersion: number }> {
  const chunks = documents.flatMap((doc) => doc.chunks);
  return db.$transaction(async (tx) => {
    const ids = documents.map((doc) => doc.documentId);
    const marked = await tx.document.updateMany({ where: { id: { in: ids }, indexedAt: null }, data: { indexedAt: new Date() } });
    if (marked.count !== ids.length) throw new Error(`some of documents ${ids.join(", ")} are already indexed`);
    if (chunks.length) {
      await tx.$executeRaw`
        INSERT INTO "Chunk" ("id", "datasetId", "documentId", "position", "text", "section", "page")
        SELECT id, ${datasetId}, document_id, position, text, section, page
        FROM unnest(${chunks.map((c) => c.id)}::text[], ${chunks.map((c) => c.documentId)}::text[], ${chunks.map((c) => c.position)}::int[], ${chunks.map((c) => c.text)}::text[], ${chunks.map((c) => c.section)}::text[], ${chunks.map((c) => c.page)}::int[]) AS c(id, document_id, position, text, section, page)`;
    }
    return tx.dataset.update({
      where: { listingId: datasetId },
      data: {
        bytesIndexed: { increment: documents.reduce((sum, doc) => sum + doc.bytes, 0) },
        chunkCount: { increment: chunks.length },
        indexVersion: { increment: 1 },
      },
      select: { bytesIndexed: true, bytesTotal: true, chunkCount: true, indexVersion: true },
    });
  }, { timeout: 60_000 });
}
