-- AlterTable
ALTER TABLE "Document" ADD COLUMN     "contentEncoding" TEXT NOT NULL DEFAULT 'identity';

