// POST /api/apps: create an app's draft listing from listed models and datasets. The system prompt stays
// private to the app's creator (and the server that runs the app).
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, json } from "@/lib/http/route";
import { ownerListing } from "@/lib/listings/catalog";
import { createAppDraft } from "@/lib/listings/service";
import { appBodySchema } from "./schema";

export async function POST(request: Request) {
  return handle(async () => {
    const { address } = await callerOf(request);
    const body = await readJsonBody(request, appBodySchema, { maxBytes: 32 * 1024 });
    const listing = await createAppDraft(address, body);
    return json(await ownerListing(listing.id, address), 201);
  });
}
