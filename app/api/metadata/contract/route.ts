// GET /api/metadata/contract — the collection's metadata (KipAssets.contractURI points here).
import { contractMetadata } from "@/lib/listings/token-metadata";

export const dynamic = "force-dynamic";

export function GET() {
  return Response.json(contractMetadata(), { headers: { "cache-control": "public, max-age=300" } });
}
