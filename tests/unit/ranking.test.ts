// The ranking changes that could regress, each on the smallest corpus that shows it: headings weigh more
// than the body, an index page of links does not outrank the page it links to, a definition is found
// under its term, parts of an identifier weigh less than the identifier, and a one-line passage is not
// favoured for its shortness, and a page that matches in several passages beats one lucky passage.
import { describe, expect, it } from "vitest";
import { Bm25Index } from "@/lib/rag/bm25";
import { documentChunks, prepareDocument } from "@/lib/rag/ingest";
import { buildChunkIndex, chunkPassage, DOCUMENT_EVIDENCE, documentLead, LEAD_CHARS, withDocumentEvidence, withLeads, type DocumentLabel, type IndexedChunk } from "@/lib/rag/search";

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Pages extracted, chunked and indexed exactly as ingestion and search do it. */
async function indexPages(pages: Record<string, string>) {
  const documents = new Map<string, DocumentLabel>();
  const chunks: IndexedChunk[] = [];
  for (const [filename, html] of Object.entries(pages)) {
    const prepared = await prepareDocument({ filename, content: utf8(html) });
    documents.set(filename, { filename, title: prepared.title });
    chunks.push(...documentChunks(filename, prepared));
  }
  const index = buildChunkIndex(chunks, documents);
  return {
    chunks,
    /** Distinct pages of the ranking, best first. */
    pages: (query: string) => [...new Set(index.search(query, 20).map((hit) => chunks[hit.index].documentId))],
  };
}

const page = (title: string, body: string, up = "Chapter 20. Server Configuration") =>
  `<html><head><title>${title}</title><link rel="up" href="up.html" title="${up}"/></head><body><div class="sect1"><h2>${title}</h2>${body}</div></body></html>`;

describe("headings weigh more than the body", () => {
  it("a passage under a heading naming the query outranks one that mentions it in passing", () => {
    const filler = Array.from({ length: 6 }, (_, i) => ({ text: `Unrelated passage ${i} about tablespaces, vacuuming and the planner's statistics for large tables.`, heading: "Other" }));
    const passages = [
      { text: "Some settings can only be changed at server start, and the write ahead log is one of them; others take effect on reload.", heading: "Tuning notes" },
      { text: "Each segment file is 16 MB; the server writes the log before the data files and recycles old segments after a checkpoint.", heading: "Write Ahead Log" },
      ...filler,
    ];
    expect(new Bm25Index(passages).search("write ahead log", 2).map((hit) => hit.index)).toEqual([1, 0]);
    // On their bodies alone, the passage that mentions it in passing wins.
    expect(new Bm25Index(passages.map((p) => p.text)).search("write ahead log", 2).map((hit) => hit.index)).toEqual([0, 1]);
  });

  it("indexes a page's title and section path with each of its passages, so a section is found by its path", async () => {
    const { pages, chunks } = await indexPages({
      "resource.html": page("20.4. Resource Consumption", "<h3>20.4.1. Memory</h3><p>Sets the amount used for buffers, 128 megabytes by default.</p>"),
      "tuning.html": page("14.4. Populating a Database", "<p>Memory for sorting is set per operation; bulk loads need a lot of it.</p>", "Chapter 14. Performance Tips"),
    });
    expect(chunks.find((c) => c.documentId === "resource.html")?.section).toBe("Chapter 20. Server Configuration › 20.4. Resource Consumption › 20.4.1. Memory");
    expect(pages("resource consumption memory")[0]).toBe("resource.html");
  });
});

describe("a page's lead", () => {
  const filler = (topic: string) => `<p>${`This paragraph explains ${topic} at length, with examples and the options that change it. `.repeat(12)}</p>`;

  it("goes with every passage of its page, so the page is found by what its opening sentence says it is for", async () => {
    const isready = page(
      "pg_isready",
      `<p>pg_isready — check the connection status of a PostgreSQL server.</p><h3>Options</h3>${filler("the host and port options")}<h3>Exit Codes</h3>${filler("the exit codes")}`,
      "PostgreSQL Client Applications",
    );
    const other = page("SET CONNECTION", `<p>Selects the current connection among the open ones.</p>${filler("naming a connection")}<p>The status of the connection is kept by the client.</p>`, "Embedded SQL Commands");
    const pages = { "app-pg-isready.html": isready, "ecpg-sql-set-connection.html": other };
    const { pages: rank, chunks } = await indexPages(pages);
    const documents = new Map(Object.keys(pages).map((f) => [f, { filename: f, title: f === "app-pg-isready.html" ? "pg_isready" : "SET CONNECTION" }]));
    const deep = chunks.filter((c) => c.documentId === "app-pg-isready.html").at(-1)!;
    expect(deep.position).toBeGreaterThan(0);
    expect(deep.text).not.toContain("connection status");
    // A passage far down the page is indexed with the page's lead in its heading.
    expect(chunkPassage(deep, withLeads(chunks, documents)).heading).toContain("pg_isready — check the connection status of a PostgreSQL server.");
    expect(chunkPassage(deep, documents).heading).not.toContain("connection status");
    expect(rank("check the connection status of the server")[0]).toBe("app-pg-isready.html");
    // The deep passage, which says nothing of it, is found through the lead; without it, not at all.
    const found = (index: Bm25Index) => index.search("connection status", 20).some((hit) => chunks[hit.index] === deep);
    expect(found(buildChunkIndex(chunks, documents))).toBe(true);
    expect(found(new Bm25Index(chunks.map((c) => chunkPassage(c, documents))))).toBe(false);
  });

  it("is the first sentence of the first passage, cut at a word under LEAD_CHARS", () => {
    expect(documentLead("ALTER TABLE — change the definition of a table. Synopsis follows.")).toBe("ALTER TABLE — change the definition of a table.");
    expect(documentLead("  One sentence without an end")).toBe("One sentence without an end");
    const long = documentLead(`${"word ".repeat(100)}end.`);
    expect(long.length).toBeLessThanOrEqual(LEAD_CHARS);
    expect(long.endsWith("word")).toBe(true);
    expect(documentLead("")).toBe("");
  });
});

describe("navigation does not compete with content", () => {
  const entries = ["shared_buffers configuration parameter", "shared_memory_size configuration parameter", "huge_pages configuration parameter", "work_mem configuration parameter", "temp_buffers configuration parameter"];
  const bookIndex = `<html><head><title>Index</title></head><body><div class="index"><h2>Index</h2>
    <p><a href="#S">S</a> | <a href="#T">T</a> | <a href="#W">W</a></p>
    <dl>${entries.map((entry) => `<dt>${entry}, <a href="runtime-config-resource.html">Memory</a></dt>`).join("")}</dl></div></body></html>`;
  const memory = page(
    "20.4. Resource Consumption",
    `<h3>20.4.1. Memory</h3><p>The server keeps a pool of shared buffers; its size is a configuration parameter set at server start, usually a quarter of memory.</p>`,
  );

  it("an index page full of links does not outrank the page it links to", async () => {
    const { pages, chunks } = await indexPages({ "bookindex.html": bookIndex, "runtime-config-resource.html": memory });
    expect(pages("shared buffers configuration parameter")[0]).toBe("runtime-config-resource.html");
    // The index's entries and its letter bar are dropped as navigation: it has no passages of its own.
    expect(chunks.filter((c) => c.documentId === "bookindex.html")).toEqual([]);
  });

  it("keeps a list whose items only now and then cite another page", async () => {
    const prepared = await prepareDocument({
      filename: "options.html",
      content: utf8(
        page(
          "pg_isready",
          `<ul><li>Exit status 0: the server accepts connections.</li><li>Exit status 1: the server rejects connections, see <a href="start.html">Starting</a>.</li><li>Exit status 2: no response.</li><li>Exit status 3: no attempt was made.</li></ul>`,
          "PostgreSQL Client Applications",
        ),
      ),
    });
    expect(prepared.text).toContain("Exit status 2: no response.");
  });
});

describe("a definition is found under its term", () => {
  const wal = page(
    "20.5. Write Ahead Log",
    `<h3>20.5.2. Checkpoints</h3><dl><dt><code>checkpoint_timeout</code> (integer)</dt><dd><p>Maximum time between automatic WAL checkpoints. The default is five minutes.</p></dd>
     <dt><code>checkpoint_warning</code> (integer)</dt><dd><p>Write a message to the server log if checkpoints happen too often.</p></dd></dl>`,
  );
  const overview = page(
    "30.5. WAL Configuration",
    `<p>A checkpoint is begun every checkpoint_timeout seconds, or when max_wal_size is about to be exceeded. Checkpoints are expensive: every checkpoint writes all dirty pages, and a checkpoint started by a timeout is spread out. Reducing the timeout causes checkpoints to occur more often, and each checkpoint timeout costs I/O.</p>`,
    "Chapter 30. Reliability and the Write-Ahead Log",
  );

  it("heads each definition with its term, and joins several terms of one definition", async () => {
    const prepared = await prepareDocument({ filename: "wal.html", content: utf8(wal) });
    expect(prepared.sections.map((s) => s.path.at(-1))).toEqual(["checkpoint_timeout (integer)", "checkpoint_warning (integer)"]);
    const options = await prepareDocument({
      filename: "pg_isready.html",
      content: utf8(page("pg_isready", `<h3>Options</h3><dl><dt>-d dbname</dt><dt>--dbname=dbname</dt><dd><p>Specifies the name of the database.</p></dd></dl>`)),
    });
    expect(options.sections[0].path).toEqual(["Chapter 20. Server Configuration", "pg_isready", "Options", "-d dbname, --dbname=dbname"]);
  });

  it("a question naming a setting finds the passage of its definition, cited under its term", async () => {
    const tips = page("14.4. Populating a Database", "<p>For a large bulk load, raise max_wal_size and checkpoint_timeout for the duration of the load, then set them back.</p>", "Chapter 14. Performance Tips");
    const documents = new Map<string, DocumentLabel>();
    const chunks: IndexedChunk[] = [];
    for (const [filename, html] of Object.entries({ "runtime-config-wal.html": wal, "populate.html": tips })) {
      const prepared = await prepareDocument({ filename, content: utf8(html) });
      documents.set(filename, { filename, title: prepared.title });
      chunks.push(...documentChunks(filename, prepared));
    }
    const hits = buildChunkIndex(chunks, documents).search("What does checkpoint_timeout control?", 3).map((hit) => chunks[hit.index]);
    // Its body never names the setting: only the term that heads it does.
    const definition = hits.find((c) => c.text.startsWith("Maximum time between automatic WAL checkpoints."));
    expect(definition?.section.endsWith("20.5.2. Checkpoints › checkpoint_timeout (integer)")).toBe(true);
    expect(hits.indexOf(definition!)).toBeLessThan(2);
  });
});

describe("identifier parts and short passages", () => {
  const filler = Array.from({ length: 6 }, (_, i) => `Unrelated passage ${i} about tablespaces, vacuuming and the planner's statistics for large tables and their indexes.`);

  it("weighs the parts of an identifier the corpus holds whole below the identifier", () => {
    const passages = [
      "Raising max_wal_size spaces checkpoints further apart.",
      "Every checkpoint flushes dirty pages; a checkpoint can also be started by hand, and a checkpoint after a timeout is spread out over the timeout.",
      "checkpoint_timeout is the longest time between automatic checkpoints.",
      "The checkpoint_timeout and max_wal_size settings are explained in the chapter.",
      ...filler,
    ];
    const ratio = (hits: { index: number; score: number }[]) => hits.find((h) => h.index === 1)!.score / hits.find((h) => h.index === 2)!.score;
    const weighted = new Bm25Index(passages).search("checkpoint_timeout", 4);
    expect(weighted.map((hit) => hit.index)).toEqual([2, 3, 1, 0]);
    // The passage that only has the parts, many times, counts for far less than with every term weighed alike.
    expect(ratio(weighted)).toBeLessThan(0.4);
    expect(ratio(new Bm25Index(passages, { partWeight: 1 }).search("checkpoint_timeout", 4))).toBeGreaterThan(0.5);
    // A part alone still finds every passage that holds it, at full weight.
    expect(new Bm25Index(passages).search("timeout", 4).map((hit) => hit.index).sort()).toEqual([1, 2, 3]);
  });

  it("scores a one-line passage like one of half the average length, not higher for being shorter", () => {
    const long = Array.from({ length: 6 }, (_, i) => `Unrelated passage ${i} about tablespaces, vacuuming and the planner's statistics for large tables, their indexes, their toast tables and the free space map kept for each of them.`);
    const passages = ["SET CONNECTION con2;", "The connection is made by the client library, which reads the service file first.", ...long];
    const short = new Bm25Index(passages, { proximity: 0 });
    const unfloored = new Bm25Index(passages, { proximity: 0, minLengthShare: 0 });
    const score = (index: Bm25Index, doc: number) => index.search("connection", 8).find((hit) => hit.index === doc)!.score;
    // Without the floor the three-word passage scores above the sentence that explains the word.
    expect(score(unfloored, 0)).toBeGreaterThan(score(unfloored, 1));
    // With it the gap is smaller, and the longer passage's score is unchanged.
    expect(score(short, 0)).toBeLessThan(score(unfloored, 0));
    expect(score(short, 0) / score(short, 1)).toBeLessThan(score(unfloored, 0) / score(unfloored, 1));
    expect(score(short, 1)).toBeCloseTo(score(unfloored, 1), 6);
  });

  it("ranks a page that matches in several passages above one lucky passage, and keeps each page's passages in order", () => {
    const hit = (documentId: string, score: number, datasetId = "d1") => ({ datasetId, documentId, score });
    // One lucky passage of another page against the page about the question, matched in three passages.
    const ranked = withDocumentEvidence([hit("lucky.html", 10), hit("about.html", 9), hit("about.html", 4), hit("about.html", 2)]);
    expect(ranked.map((h) => [h.documentId, h.score])).toEqual([
      ["about.html", expect.closeTo(9 + DOCUMENT_EVIDENCE * (4 + 2), 9)],
      // A passage alone in its page keeps its score, and a weak passage of the good page stays below it.
      ["lucky.html", 10],
      ["about.html", expect.closeTo(4 * (1 + (DOCUMENT_EVIDENCE * 6) / 9), 9)],
      ["about.html", expect.closeTo(2 * (1 + (DOCUMENT_EVIDENCE * 6) / 9), 9)],
    ]);
    // Only the next three count, and the same file name in another dataset is another document.
    const many = withDocumentEvidence([hit("a", 5), hit("a", 1), hit("a", 1), hit("a", 1), hit("a", 1), hit("a", 1, "d2")]);
    expect(many[0].score).toBeCloseTo(5 + DOCUMENT_EVIDENCE * 3, 9);
    expect(many.find((h) => h.datasetId === "d2")!.score).toBe(1);
  });
});
