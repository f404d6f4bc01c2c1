-- Model endpoint health: the last probe of each model endpoint, shared by every app server.

-- CreateTable
CREATE TABLE "ModelHealth" (
    "listingId" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'unknown',
    "latencyMs" INTEGER,
    "reason" TEXT,
    "checkedAt" TIMESTAMP(3),
    "probingUntil" TIMESTAMP(3),

    CONSTRAINT "ModelHealth_pkey" PRIMARY KEY ("listingId")
);

-- CreateIndex
CREATE INDEX "ModelHealth_checkedAt_idx" ON "ModelHealth"("checkedAt");

-- AddForeignKey
ALTER TABLE "ModelHealth" ADD CONSTRAINT "ModelHealth_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "ModelEndpoint"("listingId") ON DELETE CASCADE ON UPDATE CASCADE;

