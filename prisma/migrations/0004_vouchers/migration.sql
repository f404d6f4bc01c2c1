-- Settlement v2: sessions name their operator, each query carries a cumulative voucher (seq, issuedAt)
-- instead of a receipt (nonce, deadline). Rows written for the v1 contract keep their numbers under the
-- new names. They belong to that contract's address and are never sent to the new one.

-- DropIndex
DROP INDEX "Receipt_chainId_settlement_payer_nonce_key";

-- AlterTable
ALTER TABLE "PaymentSession" ADD COLUMN     "operator" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "revokedAt" INTEGER,
ADD COLUMN     "settledJson" TEXT NOT NULL DEFAULT '[]',
ADD COLUMN     "settledSeq" TEXT NOT NULL DEFAULT '0';
ALTER TABLE "PaymentSession" ALTER COLUMN "operator" DROP DEFAULT;

-- AlterTable
ALTER TABLE "Receipt" RENAME COLUMN "nonce" TO "seq";
ALTER TABLE "Receipt" RENAME COLUMN "deadline" TO "issuedAt";
ALTER TABLE "Receipt" ADD COLUMN     "recordHash" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_sessionHash_seq_key" ON "Receipt"("sessionHash", "seq");
