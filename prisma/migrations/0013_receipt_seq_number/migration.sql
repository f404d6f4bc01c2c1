-- "seqNumber" is "seq" as a number, computed by the database from it (a generated column: no writer can
-- let the two disagree), NULL unless "seq" is 1 to 18 digits. The account's newest voucher is found
-- through the index below instead of by sorting every receipt of the account.
ALTER TABLE "Receipt" ADD COLUMN "seqNumber" BIGINT GENERATED ALWAYS AS (CASE WHEN "seq" ~ '^[0-9]{1,18}$' THEN "seq"::bigint END) STORED;

-- CreateIndex
CREATE INDEX "Receipt_chainId_settlement_operator_payer_seqNumber_idx" ON "Receipt"("chainId", "settlement", "operator", "payer", "seqNumber");
