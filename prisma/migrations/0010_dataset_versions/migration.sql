-- Datasets that grow: versions of a dataset's document set, and retrieval scorecards per version.

-- AlterTable
ALTER TABLE "Dataset" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 1;

-- AlterTable
ALTER TABLE "Document" ADD COLUMN "addedInVersion" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN "removedInVersion" INTEGER;

-- AlterTable
ALTER TABLE "Receipt" ADD COLUMN "datasetVersionsJson" TEXT;

-- CreateTable
CREATE TABLE "DatasetVersion" (
    "datasetId" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "contentHash" TEXT NOT NULL,
    "documentCount" INTEGER NOT NULL,
    "addedJson" TEXT NOT NULL DEFAULT '[]',
    "removedJson" TEXT NOT NULL DEFAULT '[]',
    "metadataJson" TEXT NOT NULL DEFAULT '',
    "metadataHash" TEXT NOT NULL DEFAULT '',
    "onChainAt" TIMESTAMP(3),
    "txHash" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DatasetVersion_pkey" PRIMARY KEY ("datasetId","number")
);

-- CreateTable
CREATE TABLE "ScorecardQuestion" (
    "id" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "question" TEXT NOT NULL,
    "expectedDocument" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScorecardQuestion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScorecardRun" (
    "datasetId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "questions" INTEGER NOT NULL,
    "recallAt1" DOUBLE PRECISION NOT NULL,
    "recallAt5" DOUBLE PRECISION NOT NULL,
    "mrr" DOUBLE PRECISION NOT NULL,
    "resultsJson" TEXT NOT NULL,
    "computedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScorecardRun_pkey" PRIMARY KEY ("datasetId","version")
);

-- CreateIndex
CREATE INDEX "ScorecardQuestion_datasetId_idx" ON "ScorecardQuestion"("datasetId");

-- AddForeignKey
ALTER TABLE "DatasetVersion" ADD CONSTRAINT "DatasetVersion_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScorecardQuestion" ADD CONSTRAINT "ScorecardQuestion_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScorecardRun" ADD CONSTRAINT "ScorecardRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;
