-- Citations name a passage's document title and section path (and a PDF's page), not only the file.
ALTER TABLE "Document" ADD COLUMN "title" TEXT NOT NULL DEFAULT '';

ALTER TABLE "Chunk" ADD COLUMN "section" TEXT NOT NULL DEFAULT '',
ADD COLUMN "page" INTEGER;
