import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { chunkText } from "@/lib/rag/chunk";
import { Bm25Index } from "@/lib/rag/bm25";
import { indexTerms } from "@/lib/rag/terms";
import { detectDocument } from "@/lib/rag/extract";
import { DATASET_LIMITS } from "@/lib/rag/limits";
import { answerExtractively } from "@/lib/ai/offline";

const artOfWar = fs.readFileSync(path.join(import.meta.dirname, "../../prisma/seed/art-of-war.txt"), "utf8");

describe("chunkText", () => {
  it("keeps every chunk under the limit and loses no paragraph", () => {
    const chunks = chunkText(artOfWar, { maxChars: 600, overlapChars: 100 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(600 + 100);
    for (const line of artOfWar.split("\n").filter((l) => l.trim().length > 0)) {
      expect(chunks.some((chunk) => chunk.includes(line.trim().slice(0, 60)))).toBe(true);
    }
  });

  it("splits an over-long paragraph by sentences", () => {
    const paragraph = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is here.`).join(" ");
    const chunks = chunkText(paragraph, { maxChars: 200, overlapChars: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join(" ")).toContain("Sentence number 39 is here.");
  });

  it("returns nothing for blank text and rejects a tiny limit", () => {
    expect(chunkText("  \n\n ")).toEqual([]);
    expect(() => chunkText("x", { maxChars: 10 })).toThrow(/maxChars/);
  });
});

describe("retrieval over the seeded text", () => {
  it("ranks the passage about the same subject first", () => {
    const chunks = chunkText(artOfWar, { maxChars: 500, overlapChars: 0 });
    const [best] = new Bm25Index(chunks).search("Why is deception the basis of warfare?", 1);
    expect(chunks[best.index]).toMatch(/deception/);
  });

  it("counts terms without stopwords, across scripts, lightly stemmed", () => {
    expect(indexTerms("The battles of the generals")).toEqual(indexTerms("a battle, a general"));
    expect(indexTerms("boxes classes fighting")).toEqual(["box", "class", "fight"]);
    expect(indexTerms("孫子兵法 in 1910")).toEqual(["孫子兵法", "1910"]);
  });
});

describe("detectDocument", () => {
  it("rejects a fake PDF, binary content and oversize files", () => {
    expect(() => detectDocument("a.pdf", new Uint8Array(4))).toThrow(/not a PDF/);
    expect(() => detectDocument("a.txt", new Uint8Array([104, 0, 105]))).toThrow(/binary/);
    expect(() => detectDocument("a.txt", new Uint8Array(DATASET_LIMITS.maxFileBytes + 1))).toThrow(/at most 5.0 MB/);
  });
});

describe("offline extractive model", () => {
  it("quotes the matching sentence with its citation", () => {
    const answer = answerExtractively("What is all warfare based on?", [
      { index: 1, text: "Energy may be likened to the bending of a crossbow." },
      { index: 2, text: "All warfare is based on deception. Hold out baits to entice the enemy." },
    ]);
    expect(answer).toContain("All warfare is based on deception.");
    expect(answer).toContain("[2]");
  });

  it("says so when nothing matches", () => {
    expect(answerExtractively("quantum chromodynamics", [{ index: 1, text: "Four score and seven years ago." }])).toMatch(
      /could not find/,
    );
  });
});
