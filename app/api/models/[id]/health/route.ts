// GET /api/models/:id/health: a model's health as its last probe found it (status, latency, when, why).
// Public for listed models; a draft's only to its creator.
// POST: probe it now (signed in; at most once per ON_DEMAND_GAP_MS per model across every server), for a
// creator about to list the model or an app on it.
import { getAddress } from "viem";
import { currentSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { modelHealth, probeModelNow } from "@/lib/models/health-server";

/** The model listing, if the caller may see it (listed, or a draft of theirs). */
async function visibleModel(id: string, address: string | null) {
  const listing = await getDb().listing.findUnique({ where: { id }, select: { kind: true, status: true, creator: true } });
  const visible = listing?.kind === "model" && (listing.status === "listed" || (address !== null && listing.creator === getAddress(address)));
  if (!visible) throw new AppError("not_found", "There is no such model listing.");
}

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    await visibleModel(id, (await currentSession())?.address ?? null);
    return json(await modelHealth(id));
  });
}

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    await visibleModel(id, address);
    await enforceRouteLimit(request, "modelTest", address);
    return json(await probeModelNow(id));
  });
}
