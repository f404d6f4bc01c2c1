// GET /api/listings/:id/stats: what the chain says about a listed slot: price, total earned, holders and
// their shares, queries served. Amounts are base-unit strings.
import { AppError } from "@/lib/errors";
import { getDb } from "@/lib/db";
import { handle, idFrom, json } from "@/lib/http/route";
import { slotStats } from "@/lib/listings/chain-stats";
import { currentDeployment } from "@/lib/listings/service";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const listing = await getDb().listing.findUnique({ where: { id }, select: { status: true, slotId: true, listTxHash: true } });
    if (!listing || listing.status !== "listed" || listing.slotId === null) throw new AppError("not_found", "No such listed asset.");
    const stats = await slotStats(currentDeployment(), listing.slotId, listing.listTxHash).catch((error: unknown) => {
      throw new AppError("upstream_unavailable", "The chain cannot be read right now.", { cause: error });
    });
    return json({
      slot: stats.slot,
      creator: stats.creator,
      active: stats.active,
      pricePerQuery: stats.pricePerQuery.toString(),
      revenue: stats.revenue.toString(),
      uri: stats.uri,
      contentHash: stats.contentHash,
      queries: stats.queries,
      charged: stats.charged.toString(),
      holders: stats.holders.map((h) => ({ address: h.address, shares: h.shares.toString(), tokenIds: h.tokenIds.map(String) })),
    });
  });
}
