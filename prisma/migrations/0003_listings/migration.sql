-- AlterTable
ALTER TABLE "ModelEndpoint" ADD COLUMN "embeddingsModel" TEXT;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Listing" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "chainId" INTEGER NOT NULL,
    "assets" TEXT NOT NULL,
    "slotId" INTEGER,
    "kind" TEXT NOT NULL,
    "creator" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "pricePerQuery" TEXT NOT NULL,
    "tags" TEXT NOT NULL DEFAULT '[]',
    "metadataJson" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "listTxHash" TEXT,
    "status" TEXT NOT NULL DEFAULT 'draft',
    "failure" TEXT,
    "pendingEdit" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_Listing" ("assets", "chainId", "contentHash", "createdAt", "creator", "description", "id", "kind", "listTxHash", "metadataJson", "name", "pricePerQuery", "slotId", "status", "updatedAt") SELECT "assets", "chainId", "contentHash", "createdAt", "creator", "description", "id", "kind", "listTxHash", "metadataJson", "name", "pricePerQuery", "slotId", "status", "updatedAt" FROM "Listing";
DROP TABLE "Listing";
ALTER TABLE "new_Listing" RENAME TO "Listing";
CREATE INDEX "Listing_kind_status_idx" ON "Listing"("kind", "status");
CREATE INDEX "Listing_creator_idx" ON "Listing"("creator");
CREATE UNIQUE INDEX "Listing_chainId_assets_slotId_key" ON "Listing"("chainId", "assets", "slotId");
CREATE TABLE "new_Dataset" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "license" TEXT NOT NULL DEFAULT '',
    "embedder" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'indexing',
    "indexVersion" INTEGER NOT NULL DEFAULT 0,
    "bytesTotal" INTEGER NOT NULL DEFAULT 0,
    "bytesIndexed" INTEGER NOT NULL DEFAULT 0,
    "chunkCount" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "contentHash" TEXT NOT NULL DEFAULT '',
    CONSTRAINT "Dataset_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Dataset" ("embedder", "indexVersion", "license", "listingId", "status") SELECT "embedder", "indexVersion", "license", "listingId", "status" FROM "Dataset";
DROP TABLE "Dataset";
ALTER TABLE "new_Dataset" RENAME TO "Dataset";
CREATE TABLE "new_Document" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "datasetId" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "mimeType" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "content" BLOB NOT NULL,
    "indexedAt" DATETIME,
    "position" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Document_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("listingId") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Document" ("bytes", "content", "createdAt", "datasetId", "filename", "id", "mimeType", "sha256") SELECT "bytes", "content", "createdAt", "datasetId", "filename", "id", "mimeType", "sha256" FROM "Document";
DROP TABLE "Document";
ALTER TABLE "new_Document" RENAME TO "Document";
CREATE TABLE "new_Chunk" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "datasetId" TEXT NOT NULL,
    "documentId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "embedding" BLOB,
    CONSTRAINT "Chunk_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("listingId") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Chunk_documentId_fkey" FOREIGN KEY ("documentId") REFERENCES "Document" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Chunk" ("datasetId", "documentId", "embedding", "id", "position", "text") SELECT "datasetId", "documentId", "embedding", "id", "position", "text" FROM "Chunk";
DROP TABLE "Chunk";
ALTER TABLE "new_Chunk" RENAME TO "Chunk";
CREATE INDEX "Chunk_datasetId_idx" ON "Chunk"("datasetId");
CREATE TABLE "new_App" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "systemPrompt" TEXT NOT NULL,
    "topK" INTEGER NOT NULL DEFAULT 4,
    "modelId" TEXT NOT NULL,
    CONSTRAINT "App_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "App_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "ModelEndpoint" ("listingId") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_App" ("listingId", "modelId", "systemPrompt") SELECT "listingId", "modelId", "systemPrompt" FROM "App";
DROP TABLE "App";
ALTER TABLE "new_App" RENAME TO "App";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;


-- Listings and documents recorded before this migration were complete when recorded.
UPDATE "Document" SET "indexedAt" = "createdAt" WHERE "indexedAt" IS NULL;
UPDATE "Dataset" SET
    "chunkCount" = (SELECT COUNT(*) FROM "Chunk" WHERE "Chunk"."datasetId" = "Dataset"."listingId"),
    "bytesTotal" = (SELECT COALESCE(SUM("bytes"), 0) FROM "Document" WHERE "Document"."datasetId" = "Dataset"."listingId"),
    "bytesIndexed" = (SELECT COALESCE(SUM("bytes"), 0) FROM "Document" WHERE "Document"."datasetId" = "Dataset"."listingId");
