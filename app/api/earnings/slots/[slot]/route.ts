// GET /api/earnings/slots/:slot — one asset's queries and revenue per day, holders and price history
// (from the chain), and which apps use it (from the marketplace's listings).
import { readSlotReport } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { toResponse } from "@/lib/errors";
import { slotParamsSchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ slot: string }> }) {
  try {
    const { slot } = slotParamsSchema.parse(await params);
    const report = await readSlotReport(serverReaderContext(), slot);
    return Response.json(report, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
