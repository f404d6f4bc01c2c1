// GET /api/datasets/:id/scorecard: the platform's retrieval measured on the dataset's question/document
// pairs (recall@1, recall@5, MRR, the number of questions and the version measured). Public for a listed
// dataset; its owner also gets each question's result and the questions themselves.
// POST: the owner attaches pairs, as JSON ({pairs: [{question, document}]} or an array of them) or as CSV
// (text/csv, a header naming "question" and "document"); the figures are measured again at once.
import { currentSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { AppError, readBodyBytes } from "@/lib/errors";
import { latestScorecard, parseScorecardFile } from "@/lib/datasets/scorecards";
import { addScorecardPairs } from "@/lib/datasets/versions";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";

export const dynamic = "force-dynamic";

type Params = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Params) {
  return handle(async () => {
    const id = await idFrom(params);
    const db = getDb();
    const listing = await db.listing.findUnique({ where: { id }, select: { kind: true, status: true, creator: true } });
    const session = await currentSession();
    const owner = Boolean(listing && session?.address === listing.creator);
    if (!listing || listing.kind !== "dataset" || (listing.status !== "listed" && !owner)) throw new AppError("not_found", "No such dataset.");
    const scorecard = await latestScorecard(db, id);
    if (!owner) return json({ scorecard: scorecard ? { ...scorecard, results: undefined } : null });
    const questions = await db.scorecardQuestion.findMany({ where: { datasetId: id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true, question: true, expectedDocument: true } });
    return json({ scorecard, questions });
  });
}

export async function POST(request: Request, { params }: Params) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const type = (request.headers.get("content-type") ?? "").toLowerCase();
    const csv = type.startsWith("text/csv") || type.startsWith("text/plain");
    if (!csv && !type.startsWith("application/json")) {
      throw new AppError("unsupported_media_type", "Send the pairs as application/json or as text/csv.");
    }
    const text = new TextDecoder().decode(await readBodyBytes(request, 512 * 1024));
    const pairs = parseScorecardFile(csv ? "the CSV" : "the JSON", text);
    const figures = await addScorecardPairs(id, address, pairs);
    return json({ added: pairs.length, figures }, 201);
  });
}
