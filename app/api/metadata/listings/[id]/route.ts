// Serves a listing's slot metadata: exactly the bytes whose keccak256 is the slot's on-chain content hash.
import { getDb } from "@/lib/db";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[a-z0-9]{20,40}$/.test(id)) {
    return Response.json({ error: { code: "bad_request", message: "malformed listing id" } }, { status: 400 });
  }
  const listing = await getDb().listing.findUnique({ where: { id }, select: { metadataJson: true, contentHash: true, status: true } });
  // Drafts are their creator's business: metadata is public once a listing transaction exists.
  if (!listing || !listing.metadataJson || (listing.status !== "listed" && listing.status !== "pending")) {
    return Response.json({ error: { code: "not_found", message: "no such listing" } }, { status: 404 });
  }
  return new Response(listing.metadataJson, {
    headers: {
      "content-type": "application/json; charset=utf-8",
      "x-content-hash": listing.contentHash,
      // Edits change the document (and the on-chain hash): caches revalidate, keyed by the content hash.
      "cache-control": "public, max-age=0, must-revalidate",
      etag: `"${listing.contentHash}"`,
    },
  });
}
