// POST /api/datasets/:id/documents {uploads: [ids]}: the creator of a listed dataset adds documents from
// finished resumable uploads (files and archives, read entry by entry as at creation). They are indexed
// in the background and published together as the dataset's next version; the answer names that
// version and each refused document. Anyone else: 403 (404 for a draft).
import { readJsonBody } from "@/lib/errors";
import { addDocuments } from "@/lib/datasets/versions";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { addDocumentsSchema } from "./schema";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    await enforceRouteLimit(request, "upload", address);
    const { uploads } = await readJsonBody(request, addDocumentsSchema, { maxBytes: 512 * 1024 });
    const result = await addDocuments(id, address, uploads);
    return json(result, 202);
  });
}
