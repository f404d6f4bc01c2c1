// GET /api/metadata/tokens/:id — a token's ERC-3525 metadata (KipAssets.tokenURI points here).
import { AppError } from "@/lib/errors";
import { handle } from "@/lib/http/route";
import { tokenMetadata } from "@/lib/listings/token-metadata";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const { id } = await params;
    if (!/^[0-9]{1,30}$/.test(id)) throw new AppError("bad_request", "Invalid request: a token id is a decimal number.");
    return Response.json(await tokenMetadata(BigInt(id)), { headers: { "cache-control": "public, max-age=0, must-revalidate" } });
  });
}
