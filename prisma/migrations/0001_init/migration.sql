-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "AuthNonce" (
    "nonce" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),

    CONSTRAINT "AuthNonce_pkey" PRIMARY KEY ("nonce")
);

-- CreateTable
CREATE TABLE "Account" (
    "address" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSignInAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Account_pkey" PRIMARY KEY ("address")
);

-- CreateTable
CREATE TABLE "Listing" (
    "id" TEXT NOT NULL,
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
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Listing_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "listingId" TEXT NOT NULL,
    "license" TEXT NOT NULL DEFAULT '',
    "embedder" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'indexing',
    "indexVersion" INTEGER NOT NULL DEFAULT 0,
    "bytesTotal" INTEGER NOT NULL DEFAULT 0,
    "bytesIndexed" INTEGER NOT NULL DEFAULT 0,
    "chunkCount" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "contentHash" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("listingId")
);

-- CreateTable
CREATE TABLE "Document" (
    "id" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "mimeType" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "content" BYTEA NOT NULL,
    "indexedAt" TIMESTAMP(3),
    "position" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Document_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Chunk" (
    "id" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "documentId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "text" TEXT NOT NULL,

    CONSTRAINT "Chunk_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelEndpoint" (
    "listingId" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "baseUrl" TEXT,
    "modelName" TEXT NOT NULL,
    "apiKeyEncrypted" TEXT,
    "embeddingsModel" TEXT,

    CONSTRAINT "ModelEndpoint_pkey" PRIMARY KEY ("listingId")
);

-- CreateTable
CREATE TABLE "App" (
    "listingId" TEXT NOT NULL,
    "systemPrompt" TEXT NOT NULL,
    "topK" INTEGER NOT NULL DEFAULT 4,
    "modelId" TEXT NOT NULL,

    CONSTRAINT "App_pkey" PRIMARY KEY ("listingId")
);

-- CreateTable
CREATE TABLE "AppDataset" (
    "appId" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,

    CONSTRAINT "AppDataset_pkey" PRIMARY KEY ("appId","datasetId")
);

-- CreateTable
CREATE TABLE "ChainCursor" (
    "id" TEXT NOT NULL,
    "chainId" INTEGER NOT NULL,
    "lastBlock" INTEGER NOT NULL,
    "lastBlockHash" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ChainCursor_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChainEvent" (
    "cursorId" TEXT NOT NULL,
    "blockNumber" INTEGER NOT NULL,
    "logIndex" INTEGER NOT NULL,
    "txHash" TEXT NOT NULL,
    "timestamp" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "args" TEXT NOT NULL,
    "slot" INTEGER,
    "tokenId" INTEGER,
    "toTokenId" INTEGER,
    "account" TEXT,

    CONSTRAINT "ChainEvent_pkey" PRIMARY KEY ("cursorId","blockNumber","logIndex")
);

-- CreateTable
CREATE TABLE "ChainCharge" (
    "cursorId" TEXT NOT NULL,
    "blockNumber" INTEGER NOT NULL,
    "logIndex" INTEGER NOT NULL,
    "position" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "amount" TEXT NOT NULL,

    CONSTRAINT "ChainCharge_pkey" PRIMARY KEY ("cursorId","blockNumber","logIndex","position")
);

-- CreateTable
CREATE TABLE "PaymentSession" (
    "hash" TEXT NOT NULL,
    "chainId" INTEGER NOT NULL,
    "settlement" TEXT NOT NULL,
    "payer" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "spendCap" TEXT NOT NULL,
    "expiry" INTEGER NOT NULL,
    "nonce" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PaymentSession_pkey" PRIMARY KEY ("hash")
);

-- CreateTable
CREATE TABLE "Conversation" (
    "id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "appId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Conversation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChatMessage" (
    "id" TEXT NOT NULL,
    "conversationId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'complete',
    "sourcesJson" TEXT,
    "receiptId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChatMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Receipt" (
    "id" TEXT NOT NULL,
    "chainId" INTEGER NOT NULL,
    "settlement" TEXT NOT NULL,
    "payer" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "deadline" INTEGER NOT NULL,
    "sessionHash" TEXT NOT NULL,
    "slotsJson" TEXT NOT NULL,
    "maxAmountsJson" TEXT NOT NULL,
    "amountsJson" TEXT,
    "maxTotal" TEXT NOT NULL,
    "total" TEXT,
    "signature" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'answering',
    "failureReason" TEXT,
    "batchId" TEXT,
    "txHash" TEXT,
    "appId" TEXT NOT NULL,
    "conversationId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Receipt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SettlementBatch" (
    "id" TEXT NOT NULL,
    "chainId" INTEGER NOT NULL,
    "settlement" TEXT NOT NULL,
    "settler" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'sending',
    "txHash" TEXT,
    "rawTx" TEXT,
    "txNonce" INTEGER,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SettlementBatch_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RateLimitWindow" (
    "key" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "RateLimitWindow_pkey" PRIMARY KEY ("key","minute")
);

-- CreateTable
CREATE TABLE "Lease" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Lease_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "AuthNonce_expiresAt_idx" ON "AuthNonce"("expiresAt");

-- CreateIndex
CREATE INDEX "Listing_kind_status_idx" ON "Listing"("kind", "status");

-- CreateIndex
CREATE INDEX "Listing_creator_idx" ON "Listing"("creator");

-- CreateIndex
CREATE UNIQUE INDEX "Listing_chainId_assets_slotId_key" ON "Listing"("chainId", "assets", "slotId");

-- CreateIndex
CREATE INDEX "Chunk_datasetId_idx" ON "Chunk"("datasetId");

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_slot_idx" ON "ChainEvent"("cursorId", "name", "slot");

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_tokenId_idx" ON "ChainEvent"("cursorId", "name", "tokenId");

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_account_idx" ON "ChainEvent"("cursorId", "name", "account");

-- CreateIndex
CREATE INDEX "ChainCharge_cursorId_slot_idx" ON "ChainCharge"("cursorId", "slot");

-- CreateIndex
CREATE INDEX "PaymentSession_payer_chainId_settlement_idx" ON "PaymentSession"("payer", "chainId", "settlement");

-- CreateIndex
CREATE INDEX "Conversation_owner_appId_updatedAt_idx" ON "Conversation"("owner", "appId", "updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "ChatMessage_receiptId_key" ON "ChatMessage"("receiptId");

-- CreateIndex
CREATE INDEX "ChatMessage_conversationId_createdAt_idx" ON "ChatMessage"("conversationId", "createdAt");

-- CreateIndex
CREATE INDEX "Receipt_status_createdAt_idx" ON "Receipt"("status", "createdAt");

-- CreateIndex
CREATE INDEX "Receipt_payer_status_idx" ON "Receipt"("payer", "status");

-- CreateIndex
CREATE INDEX "Receipt_sessionHash_status_idx" ON "Receipt"("sessionHash", "status");

-- CreateIndex
CREATE INDEX "Receipt_batchId_idx" ON "Receipt"("batchId");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_chainId_settlement_payer_nonce_key" ON "Receipt"("chainId", "settlement", "payer", "nonce");

-- CreateIndex
CREATE INDEX "SettlementBatch_status_idx" ON "SettlementBatch"("status");

-- CreateIndex
CREATE INDEX "RateLimitWindow_minute_idx" ON "RateLimitWindow"("minute");

-- AddForeignKey
ALTER TABLE "Dataset" ADD CONSTRAINT "Dataset_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Document" ADD CONSTRAINT "Document_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Chunk" ADD CONSTRAINT "Chunk_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Chunk" ADD CONSTRAINT "Chunk_documentId_fkey" FOREIGN KEY ("documentId") REFERENCES "Document"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelEndpoint" ADD CONSTRAINT "ModelEndpoint_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "App" ADD CONSTRAINT "App_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "App" ADD CONSTRAINT "App_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "ModelEndpoint"("listingId") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AppDataset" ADD CONSTRAINT "AppDataset_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AppDataset" ADD CONSTRAINT "AppDataset_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChainEvent" ADD CONSTRAINT "ChainEvent_cursorId_fkey" FOREIGN KEY ("cursorId") REFERENCES "ChainCursor"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChainCharge" ADD CONSTRAINT "ChainCharge_cursorId_blockNumber_logIndex_fkey" FOREIGN KEY ("cursorId", "blockNumber", "logIndex") REFERENCES "ChainEvent"("cursorId", "blockNumber", "logIndex") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_appId_fkey" FOREIGN KEY ("appId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChatMessage" ADD CONSTRAINT "ChatMessage_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Receipt" ADD CONSTRAINT "Receipt_sessionHash_fkey" FOREIGN KEY ("sessionHash") REFERENCES "PaymentSession"("hash") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Receipt" ADD CONSTRAINT "Receipt_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "SettlementBatch"("id") ON DELETE SET NULL ON UPDATE CASCADE;

