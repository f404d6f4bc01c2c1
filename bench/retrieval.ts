// Retrieval benchmark: `npx tsx bench/retrieval.ts` (part of `npm run bench`).
//   ingestMBps: a dataset upload's whole server path on ~12 MB of text in files of 4 MB: type check and
//     text extraction, sha256, AES-256-GCM encryption at rest, SQLite writes, chunking, embedding, chunk
//     writes, and the first search (which builds the BM25 index), on a fresh migrated SQLite database.
//   searchMs: BM25 query latency on one dataset of 1,000 / 10,000 / 100,000 chunks of ~900 characters
//     (a Zipf-distributed 30,000-word vocabulary, as natural text has), 300 queries of 2-5 words each.
// Writes bench/results/retrieval.json and exits non-zero if a target is missed.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createDb } from "../lib/db-client";
import { BM25_RETRIEVER, Bm25Index } from "../lib/rag/bm25";
import { indexPendingDocuments, prepareDocuments, storeDocuments } from "../lib/rag/ingest";
import { searchDatasets } from "../lib/rag/search";
import { migrateDatabase } from "../scripts/stack/db";
import { startTemporaryPostgres } from "../scripts/stack/postgres";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { ingestMBps: 5, p95At10k: 10, p95At100k: 50 };
const SIZES = [1_000, 10_000, 100_000] as const;
const QUERIES = 300;

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same corpus. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(42);
const SYLLABLES = ["ka", "ri", "to", "men", "sa", "lo", "vin", "da", "ne", "por", "su", "ther", "al", "qui", "bor", "ex", "um", "tra", "gen", "fal"];
const VOCABULARY = Array.from({ length: 30_000 }, (_, i) => {
  let word = "";
  let n = i + 7;
  do {
    word += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  } while (n > 0);
  return word;
});
// Zipf(s = 1): cumulative weights, sampled by binary search.
const CUMULATIVE = (() => {
  const weights = VOCABULARY.map((_, rank) => 1 / (rank + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((w) => (sum += w / total));
})();

function word(): string {
  const x = random();
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo];
}

function sentence(): string {
  const length = 8 + Math.floor(random() * 14);
  const words = Array.from({ length }, word);
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return `${words.join(" ")}.`;
}

function paragraph(): string {
  return Array.from({ length: 3 + Math.floor(random() * 5) }, sentence).join(" ");
}

function textOfBytes(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const p = paragraph();
    parts.push(p);
    size += p.length + 2;
  }
  return parts.join("\n\n");
}

function chunkOfChars(chars: number): string {
  let text = "";
  while (text.length < chars) text += `${sentence()} `;
  return text.slice(0, chars);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

async function benchIngest(): Promise<number> {
  const server = await startTemporaryPostgres("kip-bench-retrieval-");
  const databaseUrl = server.url;
  try {
    await migrateDatabase(databaseUrl);
    const db = createDb(databaseUrl);
    const key = `0x${crypto.randomBytes(32).toString("hex")}`;
    const files = [0, 1, 2].map((i) => ({ filename: `part-${i}.txt`, content: new TextEncoder().encode(textOfBytes(4 * 1024 * 1024)) }));
    const bytes = files.reduce((sum, f) => sum + f.content.byteLength, 0);
    const listing = await db.listing.create({
      data: { chainId: 31337, assets: "0x0000000000000000000000000000000000000001", kind: "dataset", creator: "0x0000000000000000000000000000000000000002", name: "bench", description: "bench", pricePerQuery: "1", metadataJson: "", contentHash: "" },
    });
    await db.dataset.create({ data: { listingId: listing.id, embedder: BM25_RETRIEVER } });
    const started = performance.now();
    const documents = await prepareDocuments(files);
    const prepared = performance.now();
    await storeDocuments(db, listing.id, documents, key);
    const stored = performance.now();
    const progress = await indexPendingDocuments(db, listing.id, key, { texts: new Map(documents.map((d) => [d.sha256, d.text])) });
    const indexed = performance.now();
    console.log(`ingest stages (ms): extract ${(prepared - started).toFixed(0)}, store ${(stored - prepared).toFixed(0)}, chunk + index ${(indexed - stored).toFixed(0)}`);
    // Indexing leaves the dataset's BM25 index built; the first search uses it.
    await searchDatasets(db, [listing.id], "first search", 5);
    const seconds = (performance.now() - started) / 1000;
    console.log(`ingest: ${(bytes / 1e6).toFixed(1)} MB, ${progress.chunkCount} chunks in ${seconds.toFixed(2)} s`);
    await db.$disconnect();
    return bytes / 1e6 / seconds;
  } finally {
    await server.stop();
  }
}

function benchSearch(size: number): { p50: number; p95: number } {
  const texts = Array.from({ length: size }, () => chunkOfChars(900));
  const built = performance.now();
  const index = new Bm25Index(texts);
  const buildMs = performance.now() - built;
  const queries = Array.from({ length: QUERIES }, () => Array.from({ length: 2 + Math.floor(random() * 4) }, word).join(" "));
  for (const q of queries.slice(0, 20)) index.search(q, 8); // warm up the JIT
  const times: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    index.search(q, 8);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`search: ${size} chunks indexed in ${buildMs.toFixed(0)} ms`);
  return { p50: round(percentile(times, 50)), p95: round(percentile(times, 95)) };
}

async function main() {
  const ingestMBps = round(await benchIngest());
  const searchMs: Record<string, { p50: number; p95: number }> = {};
  for (const size of SIZES) searchMs[String(size)] = benchSearch(size);

  const results = { ingestMBps, searchMs };
  const out = path.join(ROOT, "bench", "results", "retrieval.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");

  const checks = [
    { name: "ingest (MB/s of text)", value: ingestMBps, target: `>= ${TARGETS.ingestMBps}`, ok: ingestMBps >= TARGETS.ingestMBps },
    ...SIZES.map((size) => {
      const target = size === 10_000 ? TARGETS.p95At10k : size === 100_000 ? TARGETS.p95At100k : undefined;
      const { p50, p95 } = searchMs[String(size)];
      return { name: `search p50 / p95 at ${size.toLocaleString("en")} chunks (ms)`, value: `${p50} / ${p95}`, target: target ? `p95 <= ${target}` : "-", ok: target ? p95 <= target : true };
    }),
  ];
  console.log("\n| measure | result | target | |\n| --- | --- | --- | --- |");
  for (const c of checks) console.log(`| ${c.name} | ${c.value} | ${c.target} | ${c.ok ? "ok" : "MISSED"} |`);
  console.log(`\nwrote ${path.relative(ROOT, out)}`);
  if (checks.some((c) => !c.ok)) {
    console.error("retrieval benchmark: a target was missed");
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
