// /api/uploads: resumable uploads (tus 1.0: POST creates an upload, HEAD reports how much the server
// has, PATCH appends from that offset, DELETE cancels). Signed-in callers only, from this site, counted
// against the upload request limit; lib/uploads/staging.ts keeps each wallet's uploads apart.
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { callerOf, handle } from "@/lib/http/route";
import { handleUploadRequest } from "@/lib/uploads/staging";

async function tus(request: Request): Promise<Response> {
  return handle(async () => {
    const { address } = await callerOf(request);
    await enforceRouteLimit(request, "uploadRequest", address);
    return handleUploadRequest(address, request);
  });
}

export const POST = tus;
export const HEAD = tus;
export const PATCH = tus;
export const DELETE = tus;
