-- AlterTable
ALTER TABLE "ModelEndpoint" ADD COLUMN     "pricePerKInput" TEXT NOT NULL DEFAULT '0',
ADD COLUMN     "pricePerKOutput" TEXT NOT NULL DEFAULT '0';

-- AlterTable
ALTER TABLE "Receipt" ADD COLUMN     "chargeNote" TEXT,
ADD COLUMN     "inputTokens" INTEGER,
ADD COLUMN     "outputTokens" INTEGER;

