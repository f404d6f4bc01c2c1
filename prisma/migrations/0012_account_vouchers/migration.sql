-- KipSettlement v3: vouchers count per account (payer with operator) over all its sessions, and carry the
-- account's running maximum and a hash of the query's own maxima. Receipts written for a v2 deployment
-- (another settlement address) keep their history: they get their session's operator, and their seq is
-- renumbered per account in the order they were admitted, so the account-wide uniqueness holds for them.

-- DropIndex
DROP INDEX "Receipt_sessionHash_seq_key";

-- AlterTable
ALTER TABLE "PaymentSession" DROP COLUMN "settledJson";

-- AlterTable
ALTER TABLE "Receipt" ADD COLUMN     "charges" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "cumulativeMax" TEXT NOT NULL DEFAULT '0',
ADD COLUMN     "operator" TEXT NOT NULL DEFAULT '';

UPDATE "Receipt" r SET "operator" = s."operator" FROM "PaymentSession" s WHERE s."hash" = r."sessionHash";

UPDATE "Receipt" r SET "seq" = n.seq::text
FROM (
  SELECT "id", row_number() OVER (PARTITION BY "chainId", "settlement", "operator", "payer" ORDER BY "createdAt", "id") AS seq FROM "Receipt"
) n
WHERE n."id" = r."id";

ALTER TABLE "Receipt" ALTER COLUMN "charges" DROP DEFAULT,
ALTER COLUMN "cumulativeMax" DROP DEFAULT,
ALTER COLUMN "operator" DROP DEFAULT;

-- AlterTable: a key made before caps its session at its total cap, as it was signed
ALTER TABLE "ApiKey" ADD COLUMN "spendCap" TEXT;
UPDATE "ApiKey" SET "spendCap" = "totalCap";
ALTER TABLE "ApiKey" ALTER COLUMN "spendCap" SET NOT NULL;

-- CreateIndex
CREATE INDEX "Receipt_sessionHash_idx" ON "Receipt"("sessionHash");

-- CreateIndex
CREATE UNIQUE INDEX "Receipt_chainId_settlement_operator_payer_seq_key" ON "Receipt"("chainId", "settlement", "operator", "payer", "seq");
