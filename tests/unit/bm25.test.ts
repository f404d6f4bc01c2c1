import { describe, expect, it } from "vitest";
import { Bm25Index } from "@/lib/rag/bm25";

const corpus = [
  "All warfare is based on deception.",
  "The general who is skilled in defense hides in the most secret recesses of the earth.",
  "Four score and seven years ago our fathers brought forth on this continent a new nation.",
  "Energy may be likened to the bending of a crossbow; decision, to the releasing of a trigger.",
  "If you know the enemy and know yourself, you need not fear the result of a hundred battles.",
  "Government of the people, by the people, for the people, shall not perish from the earth.",
];

describe("BM25", () => {
  const index = new Bm25Index(corpus);

  it("ranks the passage that answers the question first", () => {
    expect(index.search("what is warfare based on?", 3)[0].index).toBe(0);
    expect(index.search("know the enemy", 3)[0].index).toBe(4);
    expect(index.search("government by the people", 3)[0].index).toBe(5);
    expect(index.search("crossbow trigger", 2).map((h) => h.index)).toEqual([3]);
  });

  it("prefers rare terms: 'earth' alone is ambiguous, 'defense earth' is not", () => {
    const hits = index.search("earth", 5).map((h) => h.index);
    expect(new Set(hits)).toEqual(new Set([1, 5]));
    expect(index.search("defense earth", 1)[0].index).toBe(1);
  });

  it("matches the textbook BM25 score", () => {
    const tiny = new Bm25Index(["cat cat dog", "dog bird", "fish"], { k1: 1.2, b: 0.75 });
    const [hit] = tiny.search("cat", 1);
    // N=3, df=1: idf = ln(1 + 2.5/1.5); tf=2, len=3, avg=2 → norm = 2 + 1.2*(0.25 + 0.75*1.5)
    const idf = Math.log(1 + 2.5 / 1.5);
    expect(hit.score).toBeCloseTo((idf * 2 * 2.2) / (2 + 1.2 * (0.25 + 1.125)), 5);
  });

  it("returns nothing for no match, k = 0 or an empty corpus, and caps at k", () => {
    expect(index.search("quantum chromodynamics", 5)).toEqual([]);
    expect(index.search("people", 0)).toEqual([]);
    expect(new Bm25Index([]).search("x", 3)).toEqual([]);
    expect(index.search("the people earth enemy deception", 2)).toHaveLength(2);
  });
});

// A small fixture with known answers: each question's passage must rank first.
const harbour = [
  "Pilots board every vessel longer than eighty metres before it passes the breakwater.",
  "The tide table is posted at the pilot station at six each morning and updated at noon.",
  "Berth four on the north quay has twelve metres of water at low tide; berth seven has nine.",
  "Tugs are mandatory for tankers; two tugs escort any tanker through the narrows.",
  "Anchoring is forbidden inside the fairway; the anchorage lies two miles east of the light.",
  "Harbour dues are charged per gross tonne and paid to the harbour master's office.",
  "In fog, vessels sound one long blast every two minutes and keep to the starboard side of the channel.",
  "The harbour master may close the port when wind exceeds forty knots.",
];

describe("BM25 on a fixture with known answers", () => {
  const index = new Bm25Index(harbour);
  const cases: [string, number][] = [
    ["When must a pilot board?", 0],
    ["where is the tide table posted", 1],
    ["How deep is berth four?", 2],
    ["how many tugs escort a tanker", 3],
    ["Can I anchor in the fairway?", 4],
    ["who collects harbour dues", 5],
    ["what to do in fog", 6],
    ["port closed in strong wind", 7],
  ];
  it.each(cases)("%s → passage %i", (question, expected) => {
    expect(index.search(question, 3)[0].index).toBe(expected);
  });

  it("stems plural and -ing forms to the same term, and ranks by rarity", () => {
    expect(index.search("boarding vessels", 1)[0].index).toBe(0);
    // A word no passage has adds nothing; only passages sharing a term are returned.
    expect(index.search("tugs submarine", 5).map((h) => h.index)).toEqual([3]);
    // "tide" is in two passages, "noon" in one: the passage with both ranks first.
    expect(index.search("tide noon", 5).map((h) => h.index)).toEqual([1, 2]);
  });
});

describe("BM25 proximity boost", () => {
  // Both passages hold "shared" and "buffers" once and have the same length: plain BM25 ties them.
  const passages = [
    "Buffers for the log are flushed when a transaction commits; locks are shared between sessions.",
    "The shared buffers hold pages read from tables; the log is flushed when a transaction commits.",
  ];

  it("ranks the passage with the query's words side by side first", () => {
    const index = new Bm25Index(passages);
    const hits = index.search("shared buffers", 2);
    expect(hits.map((h) => h.index)).toEqual([1, 0]);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    // Without the boost the two tie and the lower index wins.
    expect(new Bm25Index(passages, { proximity: 0 }).search("shared buffers", 2).map((h) => h.index)).toEqual([0, 1]);
  });

  it("outweighs a small difference in term frequency, in the query's order only", () => {
    const texts = [
      "Memory settings: buffers, more buffers, and shared locks between the sessions that run.",
      "Memory settings: the shared buffers, locks between the sessions, and what they run.",
    ];
    expect(new Bm25Index(texts, { proximity: 0 }).search("shared buffers", 1)[0].index).toBe(0);
    expect(new Bm25Index(texts).search("shared buffers", 1)[0].index).toBe(1);
    // "buffers shared" is not the phrase: the reversed pair earns nothing.
    const reversed = new Bm25Index(["Buffers shared here.", "Shared buffers here."]);
    expect(reversed.search("shared buffers", 2).map((h) => h.index)).toEqual([1, 0]);
  });

  it("leaves single-term scores as textbook BM25", () => {
    const with_ = new Bm25Index(passages).search("buffers", 2);
    const without = new Bm25Index(passages, { proximity: 0 }).search("buffers", 2);
    expect(with_).toEqual(without);
  });
});
