// POST /api/listings/:id/confirm {txHash}: after the creator's wallet sent KipAssets.list for this draft.
// 202 while it is not mined (the hash is recorded: a reload can ask again); 200 once mined: "listed"
// when the AssetListed event matches the draft, "failed" when it reverted.
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { confirmListing } from "@/lib/listings/service";
import { confirmBodySchema } from "./schema";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const { txHash } = await readJsonBody(request, confirmBodySchema);
    const result = await confirmListing(id, address, txHash);
    return json(result, result.status === "pending" ? 202 : 200);
  });
}
