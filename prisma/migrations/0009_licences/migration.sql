-- CreateTable
CREATE TABLE "LicenceVersion" (
    "id" TEXT NOT NULL,
    "listingId" TEXT NOT NULL,
    "version" INTEGER,
    "terms" TEXT NOT NULL,
    "termsHash" TEXT NOT NULL,
    "filesHash" TEXT NOT NULL,
    "price" TEXT NOT NULL,
    "upgradePrice" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'draft',
    "publishTxHash" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LicenceVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LicenceFile" (
    "id" TEXT NOT NULL,
    "listingId" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "chunkSize" INTEGER NOT NULL,
    "chunkCount" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LicenceFile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LicenceChunk" (
    "fileId" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "LicenceChunk_pkey" PRIMARY KEY ("fileId","index")
);

-- CreateTable
CREATE TABLE "LicenceVersionFile" (
    "versionId" TEXT NOT NULL,
    "fileId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "LicenceVersionFile_pkey" PRIMARY KEY ("versionId","position")
);

-- CreateIndex
CREATE INDEX "LicenceVersion_listingId_status_idx" ON "LicenceVersion"("listingId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "LicenceVersion_listingId_version_key" ON "LicenceVersion"("listingId", "version");

-- CreateIndex
CREATE INDEX "LicenceFile_listingId_idx" ON "LicenceFile"("listingId");

-- CreateIndex
CREATE INDEX "LicenceVersionFile_fileId_idx" ON "LicenceVersionFile"("fileId");

-- CreateIndex
CREATE UNIQUE INDEX "LicenceVersionFile_versionId_path_key" ON "LicenceVersionFile"("versionId", "path");

-- AddForeignKey
ALTER TABLE "LicenceVersion" ADD CONSTRAINT "LicenceVersion_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LicenceFile" ADD CONSTRAINT "LicenceFile_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LicenceChunk" ADD CONSTRAINT "LicenceChunk_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "LicenceFile"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LicenceVersionFile" ADD CONSTRAINT "LicenceVersionFile_versionId_fkey" FOREIGN KEY ("versionId") REFERENCES "LicenceVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LicenceVersionFile" ADD CONSTRAINT "LicenceVersionFile_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "LicenceFile"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

