-- CreateTable
CREATE TABLE "AuthNonce" (
    "nonce" TEXT NOT NULL PRIMARY KEY,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    "usedAt" DATETIME
);

-- CreateTable
CREATE TABLE "Account" (
    "address" TEXT NOT NULL PRIMARY KEY,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSignInAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Listing" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "chainId" INTEGER NOT NULL,
    "assets" TEXT NOT NULL,
    "slotId" INTEGER,
    "kind" TEXT NOT NULL,
    "creator" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "pricePerQuery" TEXT NOT NULL,
    "metadataJson" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "listTxHash" TEXT,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Dataset" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "license" TEXT NOT NULL DEFAULT '',
    "embedder" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'indexing',
    CONSTRAINT "Dataset_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Document" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "datasetId" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "mimeType" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "content" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Document_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("listingId") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Chunk" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "datasetId" TEXT NOT NULL,
    "documentId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "embedding" BLOB NOT NULL,
    CONSTRAINT "Chunk_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("listingId") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Chunk_documentId_fkey" FOREIGN KEY ("documentId") REFERENCES "Document" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ModelEndpoint" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "provider" TEXT NOT NULL,
    "baseUrl" TEXT,
    "modelName" TEXT NOT NULL,
    "apiKeyEncrypted" TEXT,
    CONSTRAINT "ModelEndpoint_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "App" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "systemPrompt" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    CONSTRAINT "App_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "App_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "ModelEndpoint" ("listingId") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AppDataset" (
    "appId" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,

    PRIMARY KEY ("appId", "datasetId"),
    CONSTRAINT "AppDataset_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App" ("listingId") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "AppDataset_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset" ("listingId") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "AuthNonce_expiresAt_idx" ON "AuthNonce"("expiresAt");

-- CreateIndex
CREATE INDEX "Listing_kind_status_idx" ON "Listing"("kind", "status");

-- CreateIndex
CREATE UNIQUE INDEX "Listing_chainId_assets_slotId_key" ON "Listing"("chainId", "assets", "slotId");

-- CreateIndex
CREATE INDEX "Chunk_datasetId_idx" ON "Chunk"("datasetId");

