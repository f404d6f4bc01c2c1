// POST /api/datasets/:id/search {query, k}: the owner's BM25 search over the dataset (top-k chunks with
// scores), to check what retrieval will find. Others reach a dataset's passages only through paid queries.
import { AppError, readJsonBody } from "@/lib/errors";
import { getDb } from "@/lib/db";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { ownedListing } from "@/lib/listings/service";
import { searchDatasets } from "@/lib/rag/search";
import { searchBodySchema } from "./schema";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const listing = await ownedListing(id, address);
    if (listing.kind !== "dataset") throw new AppError("not_found", "This listing is not a dataset.");
    const { query, k } = await readJsonBody(request, searchBodySchema);
    const db = getDb();
    const started = performance.now();
    const hits = await searchDatasets(db, [id], query, k);
    const tookMs = performance.now() - started;
    const documents = new Map(
      (await db.document.findMany({ where: { datasetId: id }, select: { id: true, filename: true } })).map((d) => [d.id, d.filename]),
    );
    return json({
      query,
      tookMs: Math.round(tookMs * 100) / 100,
      results: hits.map((hit) => ({ chunkId: hit.chunkId, filename: documents.get(hit.documentId), position: hit.position, score: hit.score, text: hit.text })),
    });
  });
}
