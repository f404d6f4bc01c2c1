// GET /api/listings: listed assets of this deployment (search, kind filter, sorting); with ?mine=1 the
// signed-in creator's own listings, drafts and failed ones included.
import { getAddress } from "viem";
import { requireSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { handle, json } from "@/lib/http/route";
import { searchCatalog } from "@/lib/listings/catalog";
import { currentDeployment } from "@/lib/listings/service";
import { listQuerySchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request) {
  return handle(async () => {
    const query = listQuerySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const deployment = currentDeployment();
    if (query.mine) {
      const { address } = await requireSession();
      const rows = await getDb().listing.findMany({
        where: { chainId: deployment.chainId, assets: deployment.assets, creator: getAddress(address) },
        orderBy: { createdAt: "desc" },
        take: query.limit,
        skip: query.offset,
        select: { id: true, kind: true, name: true, status: true, slotId: true, pricePerQuery: true, failure: true, createdAt: true },
      });
      return json({ listings: rows });
    }
    const result = await searchCatalog(deployment, {
      q: query.q,
      kind: query.kind,
      sort: query.sort,
      creator: query.creator ? getAddress(query.creator) : undefined,
      limit: query.limit,
      offset: query.offset,
    });
    return json(result);
  });
}
