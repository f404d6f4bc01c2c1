// GET /api/datasets/:id/status: indexing progress of the caller's dataset (resumes an interrupted run).
import { requireSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { resumeIndexingIfStalled } from "@/lib/datasets/indexer";
import { handle, idFrom, json } from "@/lib/http/route";
import { ownedListing } from "@/lib/listings/service";
import { AppError } from "@/lib/errors";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await requireSession();
    await ownedListing(id, address);
    const dataset = await getDb().dataset.findUnique({
      where: { listingId: id },
      select: { listingId: true, status: true, bytesTotal: true, bytesIndexed: true, chunkCount: true, error: true, _count: { select: { documents: true } } },
    });
    if (!dataset) throw new AppError("not_found", "This listing is not a dataset.");
    resumeIndexingIfStalled(dataset);
    return json({
      status: dataset.status,
      bytesTotal: dataset.bytesTotal,
      bytesIndexed: dataset.bytesIndexed,
      chunkCount: dataset.chunkCount,
      documents: dataset._count.documents,
      error: dataset.error,
    });
  });
}
