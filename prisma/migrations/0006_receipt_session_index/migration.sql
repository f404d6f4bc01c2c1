-- CreateIndex
CREATE INDEX "Receipt_sessionHash_status_idx" ON "Receipt"("sessionHash", "status");

