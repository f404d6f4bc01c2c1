// GET /api/datasets/:id/versions: a dataset's versions, newest first (number, documents added and
// removed, content hash, date, on-chain status). Public for a listed dataset, the owner's for a draft.
// While a version's metadata waits for its transaction, each read checks the slot on chain.
import { currentSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { datasetVersions } from "@/lib/datasets/versions";
import { handle, idFrom, json } from "@/lib/http/route";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const listing = await getDb().listing.findUnique({ where: { id }, select: { kind: true, status: true, creator: true } });
    const session = listing && listing.status !== "listed" ? await currentSession() : null;
    if (!listing || listing.kind !== "dataset" || (listing.status !== "listed" && session?.address !== listing.creator)) {
      throw new AppError("not_found", "No such dataset.");
    }
    return json(await datasetVersions(id));
  });
}
