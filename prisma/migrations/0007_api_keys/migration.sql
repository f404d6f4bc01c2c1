-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "dailyCap" TEXT NOT NULL,
    "monthlyCap" TEXT NOT NULL,
    "totalCap" TEXT NOT NULL,
    "expiresAt" INTEGER NOT NULL,
    "allowedAppsJson" TEXT NOT NULL DEFAULT '[]',
    "sessionKeyAddress" TEXT NOT NULL,
    "sessionKeyEncrypted" TEXT NOT NULL,
    "sessionNonce" TEXT NOT NULL,
    "sessionHash" TEXT,
    "revokedAt" INTEGER,
    "lastUsedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_secretHash_key" ON "ApiKey"("secretHash");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_sessionHash_key" ON "ApiKey"("sessionHash");

-- CreateIndex
CREATE INDEX "ApiKey_owner_createdAt_idx" ON "ApiKey"("owner", "createdAt");

