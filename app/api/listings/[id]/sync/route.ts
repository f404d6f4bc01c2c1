// POST /api/listings/:id/sync {txHash?}: after setPrice / setMetadata, read the slot back from the chain
// (waiting for txHash first) and update the cached price and, when the chain holds its hash, the edit.
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { ownerListing } from "@/lib/listings/catalog";
import { syncListing } from "@/lib/listings/service";
import { syncBodySchema } from "./schema";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const { txHash } = await readJsonBody(request, syncBodySchema);
    await syncListing(id, address, txHash);
    return json(await ownerListing(id, address));
  });
}
