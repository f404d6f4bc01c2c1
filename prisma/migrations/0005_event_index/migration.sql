-- CreateTable
CREATE TABLE "ChainCursor" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "chainId" INTEGER NOT NULL,
    "lastBlock" INTEGER NOT NULL,
    "lastBlockHash" TEXT,
    "updatedAt" DATETIME NOT NULL
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

    PRIMARY KEY ("cursorId", "blockNumber", "logIndex"),
    CONSTRAINT "ChainEvent_cursorId_fkey" FOREIGN KEY ("cursorId") REFERENCES "ChainCursor" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ChainCharge" (
    "cursorId" TEXT NOT NULL,
    "blockNumber" INTEGER NOT NULL,
    "logIndex" INTEGER NOT NULL,
    "position" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "amount" TEXT NOT NULL,

    PRIMARY KEY ("cursorId", "blockNumber", "logIndex", "position"),
    CONSTRAINT "ChainCharge_cursorId_blockNumber_logIndex_fkey" FOREIGN KEY ("cursorId", "blockNumber", "logIndex") REFERENCES "ChainEvent" ("cursorId", "blockNumber", "logIndex") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_slot_idx" ON "ChainEvent"("cursorId", "name", "slot");

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_tokenId_idx" ON "ChainEvent"("cursorId", "name", "tokenId");

-- CreateIndex
CREATE INDEX "ChainEvent_cursorId_name_account_idx" ON "ChainEvent"("cursorId", "name", "account");

-- CreateIndex
CREATE INDEX "ChainCharge_cursorId_slot_idx" ON "ChainCharge"("cursorId", "slot");

