-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Dataset" (
    "listingId" TEXT NOT NULL PRIMARY KEY,
    "license" TEXT NOT NULL DEFAULT '',
    "embedder" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'indexing',
    "indexVersion" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "Dataset_listingId_fkey" FOREIGN KEY ("listingId") REFERENCES "Listing" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Dataset" ("embedder", "license", "listingId", "status") SELECT "embedder", "license", "listingId", "status" FROM "Dataset";
DROP TABLE "Dataset";
ALTER TABLE "new_Dataset" RENAME TO "Dataset";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

