// GET /api/metadata/images/:kind — the image of a dataset, model or app in slot and token metadata.
import { kindImageSvg, type ListingKind } from "@/lib/listings/metadata";

const KINDS = new Set<ListingKind>(["dataset", "model", "app"]);

export async function GET(_request: Request, { params }: { params: Promise<{ kind: string }> }) {
  const { kind } = await params;
  if (!KINDS.has(kind as ListingKind)) {
    return Response.json({ error: { code: "not_found", message: "no image for that kind" } }, { status: 404 });
  }
  return new Response(kindImageSvg(kind as ListingKind), {
    headers: {
      "content-type": "image/svg+xml; charset=utf-8",
      "cache-control": "public, max-age=86400",
      // An SVG opened directly must not run anything.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    },
  });
}
