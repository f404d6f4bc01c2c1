// GET /api/listings/:id: a listed asset (anyone) or the caller's own listing in any state.
// PATCH: edit price / description (drafts at once; listed assets return the transactions to send).
// DELETE: discard a draft or a failed listing.
import { currentSession } from "@/lib/auth/session";
import { AppError, readJsonBody } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { ownerListing, publicListing } from "@/lib/listings/catalog";
import { discardListing, editListing } from "@/lib/listings/service";
import { editBodySchema } from "./schema";

export const dynamic = "force-dynamic";

type Params = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Params) {
  return handle(async () => {
    const id = await idFrom(params);
    const session = await currentSession();
    const own = session ? await ownerListing(id, session.address) : null;
    if (own) return json(own);
    const listing = await publicListing(id);
    if (!listing || listing.status !== "listed") throw new AppError("not_found", "No such listing.");
    return json(listing);
  });
}

export async function PATCH(request: Request, { params }: Params) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const body = await readJsonBody(request, editBodySchema);
    const result = await editListing(id, address, body);
    return json({ listing: await ownerListing(id, address), onChain: result.onChain });
  });
}

export async function DELETE(request: Request, { params }: Params) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    await discardListing(id, address);
    return json({ deleted: id });
  });
}
