// Ingestion against a real (temporary, migrated) PostgreSQL database: files sealed at rest, progress
// counters, the search index primed, and an interrupted run resumed from the encrypted files.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "@/lib/db-client";
import { BM25_RETRIEVER } from "@/lib/rag/bm25";
import { decryptDocument, indexDocument, indexPendingDocuments, prepareDocuments, storeDocuments } from "@/lib/rag/ingest";
import { clearSearchCache, searchDatasets } from "@/lib/rag/search";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { makePdf } from "../helpers/pdf";

const key = `0x${crypto.randomBytes(32).toString("hex")}`;
let server: PostgresHandle;
let db: Db;

async function newDataset(): Promise<string> {
  const listing = await db.listing.create({
    data: { chainId: 31337, assets: "0x0000000000000000000000000000000000000001", kind: "dataset", creator: "0x0000000000000000000000000000000000000002", name: "t", description: "t", pricePerQuery: "1", metadataJson: "", contentHash: "" },
  });
  await db.dataset.create({ data: { listingId: listing.id, embedder: BM25_RETRIEVER } });
  return listing.id;
}

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-ingest-");
  await migrateDatabase(server.url);
  db = createDb(server.url);
}, 60_000);

afterAll(async () => {
  await db?.$disconnect();
  await server?.stop();
});

describe("ingestion into PostgreSQL", () => {
  it("stores files encrypted, counts progress and leaves the dataset searchable", async () => {
    const id = await newDataset();
    const text = "All warfare is based on deception.\n\nHence, when able to attack, we must seem unable.";
    const documents = await prepareDocuments([
      { filename: "war.txt", content: new TextEncoder().encode(text) },
      { filename: "plans.pdf", content: makePdf([["The general who wins a battle makes many calculations in his temple."]]) },
    ]);
    await storeDocuments(db, id, documents, key);
    const seen: number[] = [];
    const done = await indexPendingDocuments(db, id, key, { onProgress: (p) => seen.push(p.bytesIndexed) });
    expect(done.bytesIndexed).toBe(done.bytesTotal);
    // Small documents are indexed together: one progress report for the group.
    expect(seen).toEqual([done.bytesTotal]);
    const stored = await db.document.findMany({ where: { datasetId: id }, orderBy: { position: "asc" } });
    expect(Buffer.from(stored[0].content).toString("latin1")).not.toContain("deception");
    expect(decryptDocument(stored[0], key).toString("utf8")).toBe(text);
    expect((await db.dataset.findUniqueOrThrow({ where: { listingId: id } })).status).toBe("ready");
    const [hit] = await searchDatasets(db, [id], "calculations in the temple", 1);
    expect(hit.documentId).toBe(stored[1].id);
  });

  it("indexes many groups while writing them, and the index it leaves ranks as one loaded from the database", async () => {
    const id = await newDataset();
    // 450 pages: three groups of at most 200 documents, each written while the next is chunked.
    const pages = Array.from({ length: 450 }, (_, i) => ({
      filename: `page-${String(i).padStart(3, "0")}.md`,
      content: new TextEncoder().encode(`# Page ${i}\n\nThe quay number ${i} has a depth of ${i % 17} metres and a crane rated ${i % 5} tonnes.\n\nTides at quay ${i} follow the harbour table.`),
    }));
    await storeDocuments(db, id, await prepareDocuments(pages), key);
    const seen: number[] = [];
    const done = await indexPendingDocuments(db, id, key, { onProgress: (p) => seen.push(p.bytesIndexed) });
    expect(seen.length).toBe(3);
    expect(seen.at(-1)).toBe(done.bytesTotal);
    expect(await db.chunk.count({ where: { datasetId: id } })).toBe(done.chunkCount);
    const queries = ["depth of quay 7", "crane rated 3 tonnes", "harbour table tides", "page 449"];
    const primed = await Promise.all(queries.map((q) => searchDatasets(db, [id], q, 10)));
    clearSearchCache(id);
    const loaded = await Promise.all(queries.map((q) => searchDatasets(db, [id], q, 10)));
    expect(primed.map((hits) => hits.map((h) => [h.chunkId, h.score]))).toEqual(loaded.map((hits) => hits.map((h) => [h.chunkId, h.score])));
    expect(primed[0][0].documentName).toBe("page-007.md");
  });

  it("resumes an interrupted run from the encrypted files, and adds documents one at a time", async () => {
    const id = await newDataset();
    const documents = await prepareDocuments([
      { filename: "a.md", content: new TextEncoder().encode("# Tides\n\nThe tide table is posted each morning.") },
      { filename: "b.csv", content: new TextEncoder().encode("berth,depth\nNorth quay,12 m\n") },
    ]);
    await storeDocuments(db, id, documents, key);
    // No texts handed over: as after a restart, the job decrypts and re-extracts each file.
    clearSearchCache();
    await indexPendingDocuments(db, id, key);
    expect(await db.chunk.count({ where: { datasetId: id } })).toBe(2);
    expect((await searchDatasets(db, [id], "north quay depth", 1))[0].text).toBe("berth: North quay; depth: 12 m");
    // Running it again finds nothing pending and changes nothing.
    await indexPendingDocuments(db, id, key);
    expect(await db.chunk.count({ where: { datasetId: id } })).toBe(2);

    const added = await indexDocument(db, id, { filename: "c.json", content: new TextEncoder().encode('[{"quay":"South","depth":"9 m"}]') }, key);
    expect(added.chunks).toBe(1);
    const dataset = await db.dataset.findUniqueOrThrow({ where: { listingId: id } });
    expect(dataset).toMatchObject({ status: "ready", chunkCount: 3 });
    expect(dataset.bytesIndexed).toBe(dataset.bytesTotal);
    expect((await searchDatasets(db, [id], "south quay", 1))[0].text).toBe("[0] — quay: South; depth: 9 m");
  });

  it("stores and indexes a .tar.gz of 5,000 small pages in one dataset, in seconds", async () => {
    const { storeUploadedDocuments } = await import("@/lib/rag/ingest-uploads");
    const { finishStoredDocuments } = await import("@/lib/rag/ingest");
    const { makeTarGz } = await import("../helpers/archives");
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-5000-"));
    const file = path.join(dir, "manual.tar.gz");
    const pages = Array.from({ length: 5000 }, (_, i) => ({ name: `manual/page-${String(i).padStart(4, "0")}.txt`, content: `Page ${i} of the manual: torque setting ${i * 7} newton metres.` }));
    fs.writeFileSync(file, await makeTarGz([...pages, { name: "../evil.txt", content: "no" }]));
    const id = await newDataset();
    const started = Date.now();
    const result = await storeUploadedDocuments(db, id, [{ name: "manual.tar.gz", path: file }], key);
    await finishStoredDocuments(db, id);
    await indexPendingDocuments(db, id, key, { extracted: result.extracted });
    const seconds = (Date.now() - started) / 1000;
    fs.rmSync(dir, { recursive: true, force: true });
    expect(result.stored).toBe(5000);
    expect(result.refused).toEqual([{ name: "manual.tar.gz/../evil.txt", message: expect.stringMatching(/climbs out/) }]);
    expect(await db.document.count({ where: { datasetId: id, indexedAt: { not: null } } })).toBe(5000);
    expect(await db.chunk.count({ where: { datasetId: id } })).toBe(5000);
    const hits = await searchDatasets(db, [id], "torque setting 4207", 1);
    expect(hits[0].text).toContain("torque setting 4207 ");
    expect(seconds).toBeLessThan(60);
  }, 120_000);
});
