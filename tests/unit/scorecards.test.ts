// Retrieval scorecards on a small fixed corpus whose figures are known by hand: four questions, three
// answered by their expected document at rank 1 and one at rank 3, measured through the real path
// (documents ingested into a temporary PostgreSQL, BM25 search through searchDatasets).
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "@/lib/db-client";
import { parseScorecardFile, recomputeScorecard, scorecardFigures, latestScorecard } from "@/lib/datasets/scorecards";
import { BM25_RETRIEVER } from "@/lib/rag/bm25";
import { indexDocument } from "@/lib/rag/ingest";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";

const key = `0x${crypto.randomBytes(32).toString("hex")}`;
let server: PostgresHandle;
let db: Db;

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-scorecards-");
  await migrateDatabase(server.url);
  db = createDb(server.url);
}, 60_000);

afterAll(async () => {
  await db?.$disconnect();
  await server?.stop();
});

const CORPUS: Record<string, string> = {
  "lighthouse.txt": "The lighthouse keeper climbs the tower every evening to light the lamp for passing ships.",
  "orchard.txt": "Apples ripen in the orchard, and the farmer harvests them before the first frost.",
  "volcano.txt": "Molten lava pours down the slopes whenever the volcano erupts.",
  // One mention of the word asked about, in a longer text: it ranks below the two short penguin notes.
  "glacier.txt":
    "The glacier moves a few metres each year, carving a valley through the mountains. Meltwater feeds the rivers below, " +
    "seals rest on the floating ice at its edge, and now and then a penguin wanders along the shore of the fjord.",
  "penguin-notes.txt": "Penguin, penguin, penguin: notes on the penguin.",
  "colony.txt": "A penguin colony, penguin chicks.",
};

describe("retrieval scorecards", () => {
  it("computes recall@1, recall@5 and MRR by hand-known ranks", () => {
    expect(scorecardFigures([1, 1, 1, 3])).toEqual({ questions: 4, recallAt1: 0.75, recallAt5: 1, mrr: (3 + 1 / 3) / 4 });
    expect(scorecardFigures([2, null, 6, 11])).toEqual({ questions: 4, recallAt1: 0, recallAt5: 0.25, mrr: (1 / 2 + 1 / 6) / 4 });
  });

  it("measures the platform's retrieval on a fixed corpus: 3 questions at rank 1, 1 at rank 3", async () => {
    const listing = await db.listing.create({
      data: { chainId: 31337, assets: "0x0000000000000000000000000000000000000001", kind: "dataset", creator: "0x0000000000000000000000000000000000000002", name: "t", description: "t", pricePerQuery: "1", metadataJson: "", contentHash: "" },
    });
    await db.dataset.create({ data: { listingId: listing.id, embedder: BM25_RETRIEVER } });
    for (const [filename, text] of Object.entries(CORPUS)) await indexDocument(db, listing.id, { filename, content: new TextEncoder().encode(text) }, key);
    const pairs = [
      { question: "Who lights the lighthouse lamp?", document: "lighthouse.txt" },
      { question: "When are the orchard apples harvested?", document: "orchard.txt" },
      { question: "What pours from the volcano?", document: "volcano.txt" },
      { question: "penguin", document: "glacier.txt" },
    ];
    await db.scorecardQuestion.createMany({ data: pairs.map((p) => ({ datasetId: listing.id, question: p.question, expectedDocument: p.document })) });

    const figures = await recomputeScorecard(db, listing.id);
    expect(figures).toEqual({ version: 1, questions: 4, recallAt1: 0.75, recallAt5: 1, mrr: (3 + 1 / 3) / 4 });
    const stored = await latestScorecard(db, listing.id);
    expect(stored?.results.map((r) => r.rank)).toEqual([1, 1, 1, 3]);
    expect(stored?.results[3].top.slice(0, 3)).toEqual(["penguin-notes.txt", "colony.txt", "glacier.txt"]);

    // No questions left: no figures.
    await db.scorecardQuestion.deleteMany({ where: { datasetId: listing.id } });
    expect(await recomputeScorecard(db, listing.id)).toBeNull();
    expect(await latestScorecard(db, listing.id)).toBeNull();
  }, 60_000);

  it("reads pairs from JSON and CSV, and names what is wrong", () => {
    expect(parseScorecardFile("p.json", '[{"question":"q1","document":"a.txt"}]')).toEqual([{ question: "q1", document: "a.txt" }]);
    expect(parseScorecardFile("p.json", '{"pairs":[{"question":" q2 ","document":"b.md"}]}')).toEqual([{ question: "q2", document: "b.md" }]);
    expect(parseScorecardFile("p.csv", 'question,document\n"Where, exactly?",a.txt\nwhy,b.md\n')).toEqual([
      { question: "Where, exactly?", document: "a.txt" },
      { question: "why", document: "b.md" },
    ]);
    expect(() => parseScorecardFile("p.csv", "q,d\nx,y")).toThrow(/"question" and "document"/);
    expect(() => parseScorecardFile("p.json", '[{"question":"x"}]')).toThrow(/pair 1/);
    expect(() => parseScorecardFile("p.json", "{oops")).toThrow(/not valid JSON/);
  });
});
