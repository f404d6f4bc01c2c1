// Bulk writes of ingestion, straight through better-sqlite3 on the same SQLite file as the Prisma
// client. Chunks are most of what ingestion writes; passing them through Prisma's driver adapter costs
// 2-3x the whole rest of ingestion (measured: 7,700 chunks in ~340 ms through the adapter's raw queries,
// ~1.1 s through createMany, ~60 ms here), and a multi-megabyte file ~3x more. Each call is one
// transaction, on the connection of lib/db-direct.ts (which waits for locks held by Prisma without
// blocking it).
import type { Db } from "@/lib/db-client";
import { direct, sqliteDate } from "@/lib/db-direct";

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

export function insertDocuments(db: Db, rows: readonly StoredDocumentRow[]): Promise<void> {
  return direct(db, ({ sqlite, prepare }) => {
    const insert = prepare(
      `INSERT INTO "Document" ("id", "datasetId", "filename", "mimeType", "bytes", "sha256", "content", "position", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = sqliteDate(new Date());
    sqlite
      .transaction(() => {
        for (const r of rows) insert.run(r.id, r.datasetId, r.filename, r.mimeType, r.bytes, r.sha256, r.content, r.position, now);
      })
      .immediate();
  });
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
  return direct(db, ({ sqlite, prepare }) => {
    const insert = prepare(`INSERT INTO "Chunk" ("id", "datasetId", "documentId", "position", "text") VALUES (?, ?, ?, ?, ?)`);
    const mark = prepare(`UPDATE "Document" SET "indexedAt" = ? WHERE "id" = ? AND "indexedAt" IS NULL`);
    const progress = prepare(
      `UPDATE "Dataset" SET "bytesIndexed" = "bytesIndexed" + ?, "chunkCount" = "chunkCount" + ?, "indexVersion" = "indexVersion" + 1
       WHERE "listingId" = ? RETURNING "bytesIndexed", "bytesTotal", "chunkCount", "indexVersion"`,
    );
    return sqlite
      .transaction(() => {
        if (mark.run(sqliteDate(new Date()), documentId).changes !== 1) throw new Error(`document ${documentId} is already indexed`);
        for (const chunk of chunks) insert.run(chunk.id, datasetId, documentId, chunk.position, chunk.text);
        return progress.get(bytes, chunks.length, datasetId) as { bytesIndexed: number; bytesTotal: number; chunkCount: number; indexVersion: number };
      })
      .immediate();
  });
}
