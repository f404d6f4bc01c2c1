// Retrieval scorecards: a dataset's owner attaches pairs of a question and the document expected to
// answer it, and the platform measures its own retrieval on them, at each version: every question goes
// through searchDatasets (the chat's BM25 path, cached index and database read included), the ranked
// passages are folded into a ranking of documents (a document ranks where its best passage does), and
// the expected document's rank gives recall@1, recall@5 and MRR (reciprocal rank, 0 past rank 10).
// Recomputed when a version is created and when the questions change.
import type { Db } from "@/lib/db-client";
import { AppError } from "@/lib/errors";
import { parseCsv } from "@/lib/rag/detect";
import { searchDatasets } from "@/lib/rag/search";

/** Ranks past this count as not found (MRR@10). */
export const SCORECARD_DEPTH = 10;
/** Passages retrieved per question, enough to rank SCORECARD_DEPTH distinct documents in practice. */
const PASSAGES = 50;
export const MAX_SCORECARD_QUESTIONS = 200;
export const MAX_QUESTION_CHARS = 500;

export interface ScorecardPair {
  question: string;
  document: string;
}

export interface QuestionResult {
  /** The ScorecardQuestion's id. */
  id: string;
  question: string;
  expected: string;
  /** 1-based rank of the expected document, null when it is not in the top SCORECARD_DEPTH. */
  rank: number | null;
  /** The top documents retrieved, best first (at most 5). */
  top: string[];
}

export interface ScorecardFigures {
  questions: number;
  recallAt1: number;
  recallAt5: number;
  mrr: number;
}

/** recall@1, recall@5 and MRR from each question's rank (null: not found). */
export function scorecardFigures(ranks: readonly (number | null)[]): ScorecardFigures {
  const n = ranks.length;
  if (n === 0) return { questions: 0, recallAt1: 0, recallAt5: 0, mrr: 0 };
  const within = (k: number) => ranks.filter((r) => r !== null && r <= k).length / n;
  const mrr = ranks.reduce<number>((sum, r) => sum + (r !== null && r <= SCORECARD_DEPTH ? 1 / r : 0), 0) / n;
  return { questions: n, recallAt1: within(1), recallAt5: within(5), mrr };
}

/** Document names in the order their best passage ranks. */
export function documentRanking(passages: readonly { documentName: string }[]): string[] {
  const seen = new Set<string>();
  for (const p of passages) seen.add(p.documentName);
  return [...seen];
}

/**
 * Pairs from an uploaded file: JSON (an array of {question, document}, or {pairs: [...]}) or CSV with a
 * header naming `question` and `document` columns. Throws an AppError naming what is wrong.
 */
export function parseScorecardFile(filename: string, text: string): ScorecardPair[] {
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (!trimmed) throw new AppError("bad_request", `${filename} is empty.`);
  let rows: unknown[];
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new AppError("bad_request", `${filename} is not valid JSON.`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { pairs?: unknown }).pairs;
    if (!Array.isArray(list)) throw new AppError("bad_request", `${filename}: expected an array of {"question", "document"} or {"pairs": [...]}.`);
    rows = list;
  } else {
    let table: string[][];
    try {
      table = parseCsv(filename, trimmed);
    } catch (error) {
      throw new AppError("bad_request", error instanceof Error ? error.message : `${filename} is not valid CSV.`);
    }
    const header = (table[0] ?? []).map((h) => h.trim().toLowerCase());
    const q = header.indexOf("question");
    const d = header.indexOf("document");
    if (q < 0 || d < 0) throw new AppError("bad_request", `${filename}: the first row must name the columns "question" and "document".`);
    rows = table.slice(1).filter((row) => row.some((cell) => cell.trim())).map((row) => ({ question: row[q] ?? "", document: row[d] ?? "" }));
  }
  return rows.map((row, i) => {
    const { question, document } = (row ?? {}) as { question?: unknown; document?: unknown };
    if (typeof question !== "string" || typeof document !== "string" || !question.trim() || !document.trim()) {
      throw new AppError("bad_request", `${filename}, pair ${i + 1}: needs a "question" and a "document" (its file name).`);
    }
    return { question: question.trim(), document: document.trim() };
  });
}

/** Check pairs against the dataset's current documents and the limits; throws naming each problem. */
export function checkPairs(pairs: readonly ScorecardPair[], documentNames: ReadonlySet<string>, existing: number): void {
  if (pairs.length === 0) throw new AppError("bad_request", "Add at least one question.");
  if (existing + pairs.length > MAX_SCORECARD_QUESTIONS) {
    throw new AppError("bad_request", `A scorecard holds at most ${MAX_SCORECARD_QUESTIONS} questions (${existing} already, ${pairs.length} more sent).`);
  }
  const problems: string[] = [];
  pairs.forEach((pair, i) => {
    if (pair.question.length > MAX_QUESTION_CHARS) problems.push(`Question ${i + 1} is longer than ${MAX_QUESTION_CHARS} characters.`);
    if (!documentNames.has(pair.document)) problems.push(`Question ${i + 1}: "${pair.document.slice(0, 200)}" is not a document of the dataset.`);
  });
  if (problems.length) throw new AppError("bad_request", problems.slice(0, 20).join(" ") + (problems.length > 20 ? ` …and ${problems.length - 20} more.` : ""));
}

/** Measure the dataset's retrieval on its questions at its current version and store the run. */
export async function recomputeScorecard(db: Db, datasetId: string): Promise<(ScorecardFigures & { version: number }) | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [questions, dataset] = await Promise.all([
      db.scorecardQuestion.findMany({ where: { datasetId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
      db.dataset.findUniqueOrThrow({ where: { listingId: datasetId }, select: { version: true } }),
    ]);
    if (questions.length === 0) {
      await db.scorecardRun.deleteMany({ where: { datasetId } });
      return null;
    }
    const results: QuestionResult[] = [];
    const versionsSeen = new Set<number>([dataset.version]);
    for (const q of questions) {
      const passages = await searchDatasets(db, [datasetId], q.question, PASSAGES);
      for (const p of passages) versionsSeen.add(p.datasetVersion);
      const ranking = documentRanking(passages);
      const at = ranking.indexOf(q.expectedDocument);
      results.push({ id: q.id, question: q.question, expected: q.expectedDocument, rank: at >= 0 && at < SCORECARD_DEPTH ? at + 1 : null, top: ranking.slice(0, 5) });
    }
    // A new version landed while measuring: measure again on it.
    if (versionsSeen.size > 1) continue;
    const figures = scorecardFigures(results.map((r) => r.rank));
    const row = { questions: figures.questions, recallAt1: figures.recallAt1, recallAt5: figures.recallAt5, mrr: figures.mrr, resultsJson: JSON.stringify(results), computedAt: new Date() };
    await db.scorecardRun.upsert({ where: { datasetId_version: { datasetId, version: dataset.version } }, create: { datasetId, version: dataset.version, ...row }, update: row });
    return { ...figures, version: dataset.version };
  }
  return null;
}

export interface ScorecardView extends ScorecardFigures {
  version: number;
  computedAt: string;
}

/** The newest run's figures (public), and per question for the owner. */
export async function latestScorecard(db: Db, datasetId: string): Promise<(ScorecardView & { results: QuestionResult[] }) | null> {
  const run = await db.scorecardRun.findFirst({ where: { datasetId }, orderBy: { version: "desc" } });
  if (!run) return null;
  return {
    version: run.version,
    questions: run.questions,
    recallAt1: run.recallAt1,
    recallAt5: run.recallAt5,
    mrr: run.mrr,
    computedAt: run.computedAt.toISOString(),
    results: JSON.parse(run.resultsJson) as QuestionResult[],
  };
}
