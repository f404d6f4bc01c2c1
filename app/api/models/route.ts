// POST /api/models: create a model's draft listing. The API key is encrypted before it is stored and is
// never sent back to any browser.
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, json } from "@/lib/http/route";
import { ownerListing } from "@/lib/listings/catalog";
import { createModelDraft } from "@/lib/listings/service";
import { modelBodySchema } from "./schema";

export async function POST(request: Request) {
  return handle(async () => {
    const { address } = await callerOf(request);
    const body = await readJsonBody(request, modelBodySchema);
    const listing = await createModelDraft(address, body);
    return json(await ownerListing(listing.id, address), 201);
  });
}
