import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Bm25Builder, Bm25Index, searchIndexes, sharedStats, topK, topKReference } from "@/lib/rag/bm25";
import { chunkText } from "@/lib/rag/chunk";
import { CHUNKING } from "@/lib/rag/limits";
import { indexTerms } from "@/lib/rag/terms";

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

describe("one ranking across datasets (shared statistics)", () => {
  // A fixed corpus: the project's docs and the demo's Art of War, chunked as uploads are. Split by file into
  // 8 datasets, each dataset's own statistics differ wildly (a word common in one file is rare in another).
  const root = path.resolve(import.meta.dirname, "..", "..");
  const files = ["README.md", "docs/API.md", "docs/SECURITY.md", "docs/settlement-format.md", "prisma/seed/art-of-war.txt", "prisma/seed/gettysburg-address.txt"];
  // Each passage carries its file's name as its heading, so the heading field's statistics are shared too.
  const documents = files.map((file) => chunkText(fs.readFileSync(path.join(root, file), "utf8"), CHUNKING).map((text) => ({ text, heading: file })));
  const passages = documents.flat();
  const whole = new Bm25Index(passages);
  // 8 datasets: each document's passages go, in runs of 10, to the datasets in turn.
  const split: { index: Bm25Index; ids: number[] }[] = [];
  {
    const groups: number[][] = Array.from({ length: 8 }, () => []);
    passages.forEach((_, id) => groups[Math.floor(id / 10) % 8].push(id));
    for (const ids of groups) split.push({ index: new Bm25Index(ids.map((id) => passages[id])), ids });
  }
  const questions = [
    "how long does a revoked session key keep working",
    "what does the operator sign when it settles",
    "deception in warfare",
    "how are passwords or secrets stored at rest",
    "rate limit per wallet and per address",
    "what is the record hash made of",
    "the general who wins makes many calculations",
    "how do I connect MetaMask to the local chain",
    "what happens when the model endpoint is down",
    "brave men living and dead who struggled here",
    "withdrawal delay and request",
    "OpenAI compatible chat completions endpoint",
  ];
  /** The top 5 of the split datasets, merged by score, as passage ids. */
  const splitTop = (question: string, shared: boolean) => {
    const stats = sharedStats(split.map((s) => s.index));
    return split
      .flatMap(({ index, ids }) => index.search(question, 5, shared ? stats : index.stats).map((hit) => ({ id: ids[hit.index], score: hit.score })))
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, 5)
      .map((hit) => hit.id);
  };
  /** Passages of the single index's top 5 whose rank in `other` is more than one away (or missing). */
  const displaced = (question: string, other: number[]) =>
    whole
      .search(question, 5)
      .map((hit, rank) => ({ id: hit.index, rank, there: other.indexOf(hit.index) }))
      .filter(({ rank, there }) => there < 0 || Math.abs(there - rank) > 1);

  it("gives the same top 5 as one dataset, each within one rank", () => {
    expect(passages.length).toBeGreaterThan(80);
    for (const question of questions) expect(displaced(question, splitTop(question, true)), question).toEqual([]);
  });

  it("differs when each dataset scores with its own statistics (what the shared ranking fixes)", () => {
    const moved = questions.filter((question) => displaced(question, splitTop(question, false)).length > 0);
    expect(moved.length).toBeGreaterThan(0);
  });

  it("answers a query the same however many queries the index answered before it", () => {
    const first = questions.map((question) => whole.search(question, 10));
    const again = questions.map((question) => whole.search(question, 10));
    expect(again).toEqual(first);
    expect([...questions].reverse().map((question) => whole.search(question, 10))).toEqual([...first].reverse());
  });

  it("searched together (searchIndexes), ranks as one index: the same scores in the same order, the same passages (equal scores in either order)", () => {
    const sameScoreSameIds = (hits: { id: number; score: number }[]) => hits.map((h) => `${h.score.toFixed(3)} ${h.id}`).sort();
    for (const question of questions) {
      for (const k of [1, 5, 40]) {
        const together = searchIndexes(split.map((s) => s.index), question, k).map((hit) => ({ id: split[hit.part].ids[hit.index], score: hit.score }));
        const one = whole.search(question, k).map((hit) => ({ id: hit.index, score: hit.score }));
        expect(together.length, question).toBe(one.length);
        together.forEach((h, i) => expect(h.score, question).toBeCloseTo(one[i].score, 4));
        expect(sameScoreSameIds(together), question).toEqual(sameScoreSameIds(one));
      }
    }
  });

  it("names each hit's own index when some indexes are empty", () => {
    const empty = new Bm25Index([]);
    const withEmpty = [empty, split[0].index, empty, empty, ...split.slice(1).map((s) => s.index), empty];
    const partOf = [-1, 0, -1, -1, ...split.slice(1).map((_, i) => i + 1), -1];
    for (const question of questions) {
      const plain = searchIndexes(split.map((s) => s.index), question, 40);
      const padded = searchIndexes(withEmpty, question, 40);
      expect(padded.map((h) => ({ ...h, part: partOf[h.part] })), question).toEqual(plain);
    }
  });

  it("shares N, document frequencies and the average length of all the datasets", () => {
    const stats = sharedStats(split.map((s) => s.index));
    expect(stats.size).toBe(whole.size);
    expect(stats.averageLength).toBeCloseTo(whole.stats.averageLength, 9);
    expect(stats.averageHeadingLength).toBeCloseTo(whole.stats.averageHeadingLength, 9);
    const terms = indexTerms("session operator warfare settlement voucher general", "en");
    expect(terms.every((term) => whole.documentFrequency(term) > 0)).toBe(true);
    for (const term of terms) expect(stats.documentFrequency(term)).toBe(whole.documentFrequency(term));
  });
});

describe("Bm25Builder", () => {
  it("fed one passage at a time makes the index the constructor makes from all of them", () => {
    const passages = [...corpus, ...corpus.map((text, i) => ({ text: `${text} (copy ${i})`, heading: i % 2 ? "Deception" : "The people" }))];
    const builder = new Bm25Builder();
    for (const passage of passages) builder.add(passage);
    const built = new Bm25Index(builder);
    const reference = new Bm25Index(passages);
    for (const query of ["deception", "the people of the earth", "crossbow trigger", "know the enemy and yourself", "copy 3"]) {
      expect(built.search(query, 8)).toEqual(reference.search(query, 8));
    }
    expect(built.stats.averageLength).toBe(reference.stats.averageLength);
    expect(built.stats.averageHeadingLength).toBe(reference.stats.averageHeadingLength);
  });

  it("makes one index: a used builder refuses more passages", () => {
    const builder = new Bm25Builder();
    builder.add("All warfare is based on deception.");
    new Bm25Index(builder);
    expect(() => builder.add("more")).toThrow(/already built/);
    expect(() => new Bm25Index(builder)).toThrow(/already built/);
  });
});


describe("top-k selection (quickselect against sorting every candidate)", () => {
  // A deterministic generator, so a failure can be replayed.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);

  it("keeps the same candidates in the same order, ties included, for any k", () => {
    for (let round = 0; round < 300; round++) {
      const size = 1 + Math.floor(random() * 400);
      const scores = new Float32Array(size);
      // Few distinct scores in some rounds, so many ties fall on the k-th place.
      const levels = round % 3 === 0 ? 4 : 1000;
      for (let i = 0; i < size; i++) scores[i] = 1 + Math.floor(random() * levels) / 7;
      // Candidates in the order scoring touches them: a shuffle of a subset.
      const candidates = Array.from({ length: size }, (_, i) => i).filter(() => random() < 0.8);
      for (let i = candidates.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
      }
      for (const k of [1, 2, 5, 20, 100, 200, size + 5]) {
        expect(topK(candidates, scores, k)).toEqual(topKReference(candidates, scores, k));
      }
    }
    expect(topK([], new Float32Array(0), 5)).toEqual([]);
    expect(topK([0, 1], new Float32Array([1, 2]), 0)).toEqual([]);
  });

  it("keeps the lowest indexes of the scores tied at the k-th place, whatever order they were touched in", () => {
    const scores = new Float32Array([3, 1, 2, 2, 2, 2, 5]);
    expect(topK([5, 4, 0, 3, 6, 2, 1], scores, 4)).toEqual([
      { index: 6, score: 5 },
      { index: 0, score: 3 },
      { index: 2, score: 2 },
      { index: 3, score: 2 },
    ]);
  });

  it("stays fast and exact on inputs that defeat a naive pivot (sorted, reversed, all equal, organ pipe)", () => {
    const size = 20_000;
    const shapes = [
      (i: number) => i,
      (i: number) => size - i,
      () => 1,
      (i: number) => Math.min(i, size - i),
      (i: number) => (i % 2 ? i : size - i),
    ];
    for (const shape of shapes) {
      const scores = Float32Array.from({ length: size }, (_, i) => shape(i));
      const candidates = Array.from({ length: size }, (_, i) => i);
      for (const k of [1, 100, 10_000, size - 1]) expect(topK(candidates, scores, k)).toEqual(topKReference(candidates, scores, k));
    }
  });
});

describe("BM25 headings shared by consecutive passages", () => {
  it("scores passages under a repeated heading exactly as under headings analyzed one by one", () => {
    const config = { heading: "Server Configuration › Resource Consumption › shared_buffers (integer)", text: "Sets the amount of memory the database server uses for shared memory buffers." };
    const wal = { heading: "Write Ahead Log › Checkpoints › checkpoint_timeout (integer)", text: "Maximum time between automatic WAL checkpoints." };
    const french = { heading: "Configuration du serveur › Consommation des ressources", text: "Définit la quantité de mémoire que le serveur utilise pour les tampons partagés." };
    const passages = [config, { ...config, text: "The default is 128 megabytes." }, wal, { ...wal, text: "The valid range is between 30 seconds and one day." }, config, french, { ...french, text: "La valeur par défaut est de 128 mégaoctets pour les serveurs." }, { ...french, text: "The consumption of the resources is what this section of the manual is about, in English." }, wal];
    // A trailing space changes no term but makes every heading a string of its own.
    const apart = passages.map((p, i) => ({ ...p, heading: p.heading + " ".repeat(i + 1) }));
    const shared = new Bm25Index(passages);
    const separate = new Bm25Index(apart);
    // The same heading under a passage in another language is stemmed in that language.
    for (const query of ["shared_buffers default", "checkpoint timeout range", "mémoire tampons serveur", "resource consumption memory", "consommation ressources", "checkpoints"]) {
      expect(shared.search(query, passages.length)).toEqual(separate.search(query, passages.length));
      expect(shared.search(query, passages.length).length).toBeGreaterThan(0);
    }
  });
});

describe("BM25 definitions (a passage headed by the name it defines)", () => {
  const heading = "Server Configuration › Checkpoints";
  const passages = [
    // A page that discusses the setting: it names it twice.
    { text: "A checkpoint is begun every checkpoint_timeout seconds, or sooner when the log grows; raising checkpoint_timeout makes crash recovery longer.", heading: `${heading} › WAL Configuration`, ownHeading: "WAL Configuration" },
    // The setting's own entry: its name is its heading, not its body.
    { text: "Maximum time between automatic WAL checkpoints. The default is five minutes.", heading: `${heading} › checkpoint_timeout (integer)`, ownHeading: "checkpoint_timeout (integer)" },
    { text: "Write a message to the server log if checkpoints happen too often.", heading: `${heading} › checkpoint_warning (integer)`, ownHeading: "checkpoint_warning (integer)" },
    ...Array.from({ length: 200 }, (_, i) => ({ text: `Unrelated passage number ${i} about tables and rows.`, heading: "Tables", ownHeading: "Tables" })),
  ];
  const withDefinitions = new Bm25Index(passages);
  const without = new Bm25Index(passages.map(({ text, heading: h }) => ({ text, heading: h })));

  it("ranks the entry that defines a name the question asks about above a page that only discusses it", () => {
    const question = "What does checkpoint_timeout control?";
    expect(without.search(question, 1)[0].index).toBe(0);
    expect(withDefinitions.search(question, 1)[0].index).toBe(1);
    // The entry gains one full match of the name, whatever else it matched.
    const gain = withDefinitions.search(question, 3).find((h) => h.index === 1)!.score - without.search(question, 3).find((h) => h.index === 1)!.score;
    const { size, documentFrequency } = withDefinitions.stats;
    const df = documentFrequency("checkpoint_timeout");
    expect(gain).toBeCloseTo(Math.log(1 + (size - df + 0.5) / (df + 0.5)) * 2.2, 4);
  });

  it("adds nothing to a question that does not hold the defined name whole", () => {
    for (const question of ["WAL configuration", "tables", "checkpoint timeout", "checkpoint warning"]) {
      expect(withDefinitions.search(question, 5)).toEqual(without.search(question, 5));
    }
  });
});
