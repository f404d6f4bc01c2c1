// GET /api/earnings/protocol?top=10 — queries settled, total paid, fees and top assets, from the chain.
import { readProtocolReport } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { toResponse } from "@/lib/errors";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { protocolQuerySchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  try {
    await enforceRouteLimit(request, "earnings");
    const url = new URL(request.url);
    const { top } = protocolQuerySchema.parse({ top: url.searchParams.get("top") ?? undefined });
    const report = await readProtocolReport(serverReaderContext(), { top });
    return Response.json(report, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
