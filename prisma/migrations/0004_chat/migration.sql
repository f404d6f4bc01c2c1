-- AlterTable

-- CreateTable
CREATE TABLE "PaymentSession" (
    "hash" TEXT NOT NULL PRIMARY KEY,
    "chainId" INTEGER NOT NULL,
    "settlement" TEXT NOT NULL,
    "payer" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "spendCap" TEXT NOT NULL,
    "expiry" INTEGER NOT NULL,
    "nonce" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Conversation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "owner" TEXT NOT NULL,
    "appId" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Conversation_appId_fkey" FOREIGN KEY ("appId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ChatMessage" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "conversationId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'complete',
    "sourcesJson" TEXT,
    "receiptId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ChatMessage_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Receipt" (
    "id" TEXT NOT NULL PRIMARY KEY,
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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Receipt_sessionHash_fkey" FOREIGN KEY ("sessionHash") REFERENCES "PaymentSession" ("hash") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Receipt_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "SettlementBatch" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "SettlementBatch" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "chainId" INTEGER NOT NULL,
    "settlement" TEXT NOT NULL,
    "settler" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'sending',
    "txHash" TEXT,
    "rawTx" TEXT,
    "txNonce" INTEGER,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

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
CREATE INDEX "Receipt_batchId_idx" ON "Receipt"("batchId");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_chainId_settlement_payer_nonce_key" ON "Receipt"("chainId", "settlement", "payer", "nonce");

-- CreateIndex
CREATE INDEX "SettlementBatch_status_idx" ON "SettlementBatch"("status");

