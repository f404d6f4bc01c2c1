// Dataset ingestion: each accepted type by its content, the rejections, chunk boundaries and unicode.
import { beforeAll, describe, expect, it } from "vitest";
import { chunkText } from "@/lib/rag/chunk";
import { detectDocument, extractDocumentText, htmlToText, parseCsv } from "@/lib/rag/extract";
import { datasetContentHash, prepareDocuments } from "@/lib/rag/ingest";
import { CHUNKING, DATASET_LIMITS } from "@/lib/rag/limits";
import { makePdf } from "../helpers/pdf";

const utf8 = (text: string) => new TextEncoder().encode(text);

// pdf.js is several MB of JavaScript plus its worker: the first extraction loads them, which took from
// 0.7 s alone to 4.5 s beside the other test files on a 2-core machine. Load it once, under the hook's
// own budget, so the PDF tests below time the parsing they test.
const PDF_BUDGET_MS = 30_000;
beforeAll(async () => {
  await extractDocumentText("warm-up.pdf", makePdf([["warm up"]]));
}, 120_000);

describe("each document type, decided by content", () => {
  it("plain text and Markdown (link targets dropped)", async () => {
    expect(detectDocument("notes.txt", utf8("Hello")).type).toBe("txt");
    expect(detectDocument("readme.md", utf8("# Title")).type).toBe("md");
    expect(await extractDocumentText("readme.md", utf8("# Title\n\nSee [the guide](https://x.example/g) and ![logo](l.png)."))).toBe(
      "# Title\n\nSee the guide and logo.",
    );
  });

  it("HTML: visible text only, entities decoded, blocks on their own lines", async () => {
    const html = `<!DOCTYPE html><html><head><title>Gettysburg</title><style>p{color:red}</style>
      <script>alert("no")</script></head><body><h1>Address</h1><p>Four score &amp; seven&nbsp;years ago&#8230;</p>
      <!-- comment --><p>We are met on a great battle&#x2d;field.</p></body></html>`;
    // Detected by content even when named .txt.
    expect(detectDocument("page.txt", utf8(html)).type).toBe("html");
    const text = await extractDocumentText("page.html", utf8(html));
    expect(text).toContain("Four score & seven years ago…");
    expect(text).toContain("We are met on a great battle-field.");
    expect(text).not.toMatch(/alert|color:red|comment|<p>/);
    expect(htmlToText("<p>a</p><p>b</p>").split("\n").filter(Boolean)).toEqual(["a", "b"]);
  });

  it("CSV: each row as column: value pairs, quotes and delimiters handled", async () => {
    const csv = 'name,role,quote\n"Sun Tzu",general,"All warfare is based on deception, they say."\nLincoln,president,"Four score ""and"" seven"\n';
    const text = await extractDocumentText("people.csv", utf8(csv));
    expect(text.split("\n")).toEqual([
      "name: Sun Tzu; role: general; quote: All warfare is based on deception, they say.",
      'name: Lincoln; role: president; quote: Four score "and" seven',
    ]);
    expect(parseCsv("t.csv", "a;b\n1;2")).toEqual([["a", "b"], ["1", "2"]]);
    await expect(extractDocumentText("bad.csv", utf8('a,b\n"open,2'))).rejects.toThrow(/quoted field is never closed/);
  });

  it("JSON: one line per record, nested paths kept", async () => {
    const json = JSON.stringify({ title: "Art of War", chapters: [{ n: 1, name: "Laying Plans" }, { n: 2, name: "Waging War" }] });
    const text = await extractDocumentText("book.json", utf8(json));
    expect(text.split("\n")).toEqual(["title: Art of War", "chapters[0] — n: 1; name: Laying Plans", "chapters[1] — n: 2; name: Waging War"]);
    expect(() => detectDocument("broken.json", utf8("{nope"))).toThrow(/not valid JSON/);
  });

  it("PDF: the text of every page, in order", { timeout: PDF_BUDGET_MS }, async () => {
    const pdf = makePdf([["All warfare is based on deception."], ["Hence, when able to attack, we must seem unable (to the enemy)."]]);
    expect(detectDocument("war.pdf", pdf).type).toBe("pdf");
    // A PDF is a PDF by its bytes, whatever its name.
    expect(detectDocument("war.txt", pdf).type).toBe("pdf");
    const text = await extractDocumentText("war.pdf", pdf);
    expect(text).toBe("All warfare is based on deception.\n\nHence, when able to attack, we must seem unable (to the enemy).");
  });

  it("stops at the page limit and the time limit, saying which", { timeout: PDF_BUDGET_MS }, async () => {
    const pages = Array.from({ length: 400 }, (_, i) => [`Page ${i + 1} of the long report.`]);
    const pdf = makePdf(pages);
    await expect(extractDocumentText("long.pdf", pdf, "pdf", { pdf: { maxPages: 399, maxMs: 60_000 } })).rejects.toThrow(
      /long.pdf has 400 pages; a PDF may have at most 399\. Split it/,
    );
    // 400 pages cannot be read in 5 ms: the extraction gives up between or inside page reads.
    const started = performance.now();
    await expect(extractDocumentText("long.pdf", pdf, "pdf", { pdf: { maxPages: 2000, maxMs: 5 } })).rejects.toThrow(
      /long.pdf took longer than 0.005 s to read; split it into smaller PDFs/,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    // Within both limits the same PDF reads in full.
    const text = await extractDocumentText("long.pdf", pdf, "pdf", { pdf: { maxPages: 400, maxMs: 60_000 } });
    expect(text.split("\n\n")).toHaveLength(400);
  });

  it("rejects a PDF with no text, a fake PDF, a broken PDF, binaries and empty files", { timeout: PDF_BUDGET_MS }, async () => {
    await expect(extractDocumentText("scan.pdf", makePdf([[]]))).rejects.toThrow(/scan.pdf has no extractable text/);
    expect(() => detectDocument("fake.pdf", utf8("just text"))).toThrow(/fake.pdf is not a PDF/);
    await expect(extractDocumentText("broken.pdf", utf8("%PDF-1.4\ngarbage"))).rejects.toThrow(/broken.pdf could not be read as a PDF/);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    expect(() => detectDocument("image.txt", png)).toThrow(/image.txt is a PNG image/);
    expect(() => detectDocument("latin1.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9]))).toThrow(/not UTF-8 text/);
    expect(() => detectDocument("empty.md", new Uint8Array())).toThrow(/empty.md is empty/);
    await expect(extractDocumentText("blank.txt", utf8(" \n\t \n"))).rejects.toThrow(/no text to index/);
  });
});

describe("prepareDocuments", () => {
  it("rejects the whole upload, naming every bad file, and enforces count and total limits", async () => {
    await expect(
      prepareDocuments([
        { filename: "good.txt", content: utf8("Fine text.") },
        { filename: "fake.pdf", content: utf8("nope") },
        { filename: "empty.txt", content: new Uint8Array() },
      ]),
    ).rejects.toThrow(/fake.pdf is not a PDF.*empty.txt is empty/);
    await expect(prepareDocuments([])).rejects.toThrow(/at least one file/);
    const many = Array.from({ length: DATASET_LIMITS.maxFiles + 1 }, (_, i) => ({ filename: `${i}.txt`, content: utf8("x") }));
    await expect(prepareDocuments(many)).rejects.toThrow(/at most 5000/);
    const big = new Uint8Array(DATASET_LIMITS.maxFileBytes).fill(0x61);
    const tooMuch = Array.from({ length: DATASET_LIMITS.maxTotalBytes / DATASET_LIMITS.maxFileBytes + 1 }, (_, i) => ({ filename: `${i}.txt`, content: big }));
    await expect(prepareDocuments(tooMuch)).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(
      prepareDocuments([
        { filename: "a.txt", content: utf8("one") },
        { filename: "a.txt", content: utf8("two") },
      ]),
    ).rejects.toThrow(/added twice/);
  });

  it("hashes each file and commits the dataset to their order", async () => {
    const docs = await prepareDocuments([
      { filename: "a.txt", content: utf8("alpha text") },
      { filename: "b.md", content: utf8("beta text") },
    ]);
    expect(docs[0].sha256).toBe("89a17ed624e1586515338bb4f8481788424c93f9836d1e1e382aeb7da5334b0f");
    expect(docs.map((d) => d.type)).toEqual(["txt", "md"]);
    expect(datasetContentHash(docs.map((d) => d.sha256))).not.toBe(datasetContentHash([docs[1].sha256, docs[0].sha256]));
  });
});

describe("chunk boundaries and unicode", () => {
  const sentence = (i: number) => `Sentence ${i} says something about strategy and terrain.`;

  it("keeps chunks within the size, overlaps them at word boundaries and loses no sentence", () => {
    const text = Array.from({ length: 200 }, (_, i) => sentence(i)).join("\n");
    const chunks = chunkText(text, CHUNKING);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(CHUNKING.maxChars + CHUNKING.overlapChars);
    for (let i = 0; i < 200; i++) expect(chunks.some((c) => c.includes(sentence(i)))).toBe(true);
    for (let i = 1; i < chunks.length; i++) {
      // The next chunk starts with words from the end of the previous one.
      const firstWords = chunks[i].split(" ").slice(0, 3).join(" ");
      expect(chunks[i - 1]).toContain(firstWords);
    }
  });

  it("never splits a surrogate pair, and splits CJK text at its own sentence ends", () => {
    const emoji = "😀".repeat(700); // 1,400 UTF-16 code units, no spaces
    const chunks = chunkText(emoji, { maxChars: 301, overlapChars: 0 });
    expect(chunks.join("")).toBe(emoji);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(301);
      expect(chunk).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    }
    const chinese = "兵者，國之大事，死生之地，存亡之道，不可不察也。".repeat(30);
    const cjkChunks = chunkText(chinese, { maxChars: 200, overlapChars: 50 });
    expect(cjkChunks.length).toBeGreaterThan(1);
    for (const chunk of cjkChunks) expect(chunk.endsWith("。")).toBe(true);
  });

  it("normalises text to NFC so composed and decomposed forms index alike", async () => {
    const decomposed = "Cafe\u0301 au lait"; // e + combining acute
    expect(await extractDocumentText("menu.txt", utf8(decomposed))).toBe("Café au lait");
  });
});
