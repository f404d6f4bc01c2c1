// GET /api/earnings/holders/:address — the asset tokens an address holds and their earnings, read from
// the chain (public data: anyone may read any address, as on a block explorer).
import { readHoldings } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { toResponse } from "@/lib/errors";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { holderParamsSchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request, { params }: { params: Promise<{ address: string }> }) {
  try {
    await enforceRouteLimit(request, "earnings");
    const { address } = holderParamsSchema.parse(await params);
    const report = await readHoldings(serverReaderContext(), address);
    return Response.json(report, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
