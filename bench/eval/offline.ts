// A quick check of retrieval quality without a server: `npx tsx bench/eval/offline.ts [set.json] [--misses]`
// (the main evaluation set by default; bench/eval/postgresql-manual-heldout.json is the held-out one).
// Extracts and chunks the corpus the way ingestion does (prepareDocument, documentChunks), indexes it
// the way search does (buildChunkIndex, rankAcross), as one dataset and as 8 scored with shared statistics, and
// prints recall@1 and @5 on the evaluation set. The benchmark (bench/retrieval.ts) measures the same
// through the real upload path; this is for trying a ranking change in seconds.
import fs from "node:fs";
import path from "node:path";
import { documentChunks, prepareDocument } from "../../lib/rag/ingest";
import { buildChunkIndex, rankAcross, type DocumentLabel, type IndexedChunk } from "../../lib/rag/search";
import { distinctPages, loadEvalSet, recall } from "./recall";

const fileArg = process.argv.find((a) => a.endsWith(".json"));
const set = fileArg ? loadEvalSet(path.resolve(fileArg)) : loadEvalSet();
const dir = set.corpus.path;
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".html")).sort();
const documents = new Map<string, DocumentLabel>();
const chunks: IndexedChunk[] = [];
const started = performance.now();
for (const file of files) {
  const prepared = await prepareDocument({ filename: file, content: fs.readFileSync(path.join(dir, file)) });
  documents.set(file, { filename: file, title: prepared.title });
  chunks.push(...documentChunks(file, prepared));
}
console.log(`${files.length} pages, ${chunks.length} chunks in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const DEPTH = 100;
function rank(parts: IndexedChunk[][]): string[][] {
  const indexed = parts.map((chunks) => ({ index: buildChunkIndex(chunks, documents), chunks }));
  // Ranked as searchDatasets ranks (rankAcross).
  return set.questions.map((q) => distinctPages(rankAcross(indexed, q.question, DEPTH).map((h) => ({ documentName: h.chunk.documentId }))));
}

const one = recall(set.questions, rank([chunks]));
const split = recall(set.questions, rank(Array.from({ length: 8 }, (_, i) => chunks.filter((c) => files.indexOf(c.documentId) % 8 === i))));
console.log(`1 dataset:  recall@1 ${one.recallAt1}  recall@5 ${one.recallAt5}`);
console.log(`8 datasets: recall@1 ${split.recallAt1}  recall@5 ${split.recallAt5}`);
if (process.argv.includes("--misses")) for (const m of one.misses) console.log(`${m.rank}\t${m.question}\n\texpected ${m.expected.join(", ")}\n\ttop ${m.top.join(", ")}`);
