// GET /api/earnings/slots/:slot — one asset's queries and revenue per day, holders and price history
// (from the chain), and which apps use it (from the marketplace's listings).
import { readSlotReport } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { toResponse } from "@/lib/errors";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { slotParamsSchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request, { params }: { params: Promise<{ slot: string }> }) {
  try {
    await enforceRouteLimit(request, "earnings");
    const { slot } = slotParamsSchema.parse(await params);
    const report = await readSlotReport(serverReaderContext(), slot);
    return Response.json(report, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
