// Recall on the evaluation set (bench/eval/postgresql-manual.json): a question counts as found at k when
// one of its expected pages is among the first k distinct pages of the ranking. Shared by the benchmark
// (bench/retrieval.ts) and the quick offline check (bench/eval/offline.ts).
import fs from "node:fs";
import path from "node:path";

export interface EvalQuestion {
  question: string;
  /** Pages that answer it (file names of the corpus), the first the one it was written for. */
  pages: string[];
  /** Why an alternate page is listed: it answers the question as fully. */
  note?: string;
}

export interface EvalSet {
  corpus: { name: string; debianPackage: string; path: string; note: string };
  note?: string;
  questions: EvalQuestion[];
}

export const EVAL_FILE = path.resolve(import.meta.dirname, "postgresql-manual.json");
/** Questions on the same corpus that no ranking choice was made on (see its note). */
export const HELDOUT_FILE = path.resolve(import.meta.dirname, "postgresql-manual-heldout.json");

export function loadEvalSet(file = EVAL_FILE): EvalSet {
  return JSON.parse(fs.readFileSync(file, "utf8")) as EvalSet;
}

/** The page a stored document name stands for: its base name ("manual.tar.gz/html/sql-copy.html" → "sql-copy.html"). */
export function pageOf(documentName: string): string {
  return documentName.slice(documentName.lastIndexOf("/") + 1);
}

/** The distinct pages of a ranking of passages, in order of their best passage. */
export function distinctPages(ranked: readonly { documentName: string }[]): string[] {
  const pages: string[] = [];
  for (const hit of ranked) {
    const page = pageOf(hit.documentName);
    if (!pages.includes(page)) pages.push(page);
  }
  return pages;
}

export interface RecallResult {
  recallAt1: number;
  recallAt5: number;
  /** Questions whose expected page is not first: the rank it has (Infinity when not in the ranking). */
  misses: { question: string; expected: string[]; rank: number; top: string[] }[];
}

/** recall@1 and @5 of one ranking of pages per question (in the eval set's order). */
export function recall(questions: readonly EvalQuestion[], rankings: readonly string[][]): RecallResult {
  let at1 = 0;
  let at5 = 0;
  const misses: RecallResult["misses"] = [];
  questions.forEach((q, i) => {
    const ranking = rankings[i];
    const rank = ranking.findIndex((page) => q.pages.includes(page)) + 1 || Infinity;
    if (rank <= 1) at1++;
    if (rank <= 5) at5++;
    if (rank > 1) misses.push({ question: q.question, expected: q.pages, rank, top: ranking.slice(0, 5) });
  });
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { recallAt1: round(at1 / questions.length), recallAt5: round(at5 / questions.length), misses };
}
