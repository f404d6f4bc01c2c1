// GET /api/datasets/:id/documents/:documentId: the raw file, decrypted, for the dataset's owner only.
// DELETE: the creator of a listed dataset removes the document: a new version without it, whose passages
// are never retrieved again. Anyone else: 403 (404 for a draft).
import { requireSession } from "@/lib/auth/session";
import { removeDocument } from "@/lib/datasets/versions";
import { getDb } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { callerOf, handle, idFrom, json, listingIdSchema } from "@/lib/http/route";
import { ownedListing } from "@/lib/listings/service";
import { decryptDocument } from "@/lib/rag/ingest";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string; documentId: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const documentId = listingIdSchema.safeParse((await params).documentId);
    if (!documentId.success) throw new AppError("bad_request", "Invalid request: malformed document id.");
    const { address } = await requireSession();
    await ownedListing(id, address);
    const document = await getDb().document.findFirst({ where: { id: documentId.data, datasetId: id } });
    if (!document) throw new AppError("not_found", "No such document in this dataset.");
    const content = decryptDocument(document, serverEnv().ENCRYPTION_KEY);
    return new Response(new Uint8Array(content), {
      headers: {
        "content-type": document.mimeType,
        "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(document.filename)}`,
        "cache-control": "private, no-store",
        "x-content-type-options": "nosniff",
      },
    });
  });
}

export async function DELETE(request: Request, { params }: { params: Promise<{ id: string; documentId: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const documentId = listingIdSchema.safeParse((await params).documentId);
    if (!documentId.success) throw new AppError("bad_request", "Invalid request: malformed document id.");
    const { address } = await callerOf(request);
    return json(await removeDocument(id, address, documentId.data));
  });
}
