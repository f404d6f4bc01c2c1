// /api/listings/:id/licences
//   GET (public): the listing's published licence versions: terms, files (path, size, sha256), and from the
//   chain each version's price, upgrade price and commitments; for a signed-in wallet, its licences and price.
//   The newest 20 versions; `?before=N` pages to older ones (the answer's `nextBefore`). Versions whose chain
//   read failed are left out and listed in `unavailable`. Rate-limited per client address ("licenceReads").
//   POST (creator): a draft version {terms, price, upgradePrice, files: [{upload} | {file}]} from finished
//   uploads (/api/uploads, stored encrypted, then deleted from staging) and files of earlier versions.
//   Answers 201 with the publishVersion transaction to send; then POST ./confirm.
import { currentSession } from "@/lib/auth/session";
import { AppError, readJsonBody } from "@/lib/errors";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { draftLicenceVersion, licenceOffer } from "@/lib/licences/service";
import { discardStaged, stagedFiles } from "@/lib/uploads/staging";
import { licenceDraftSchema } from "./schema";

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    await enforceRouteLimit(request, "licenceReads");
    const id = await idFrom(params);
    const before = new URL(request.url).searchParams.get("before");
    if (before !== null && !/^[1-9]\d{0,8}$/.test(before)) throw new AppError("bad_request", "Invalid request: before: must be a version number.");
    const session = await currentSession();
    return json(await licenceOffer(id, session?.address ?? null, before === null ? undefined : Number(before)));
  });
}

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    await enforceRouteLimit(request, "upload", address);
    const body = await readJsonBody(request, licenceDraftSchema);
    const uploads = body.files.flatMap((f) => ("upload" in f ? [f.upload] : []));
    const staged = await stagedFiles(address, uploads);
    const draft = await draftLicenceVersion(address, id, body, staged);
    await discardStaged(address, uploads);
    return json(draft, 201);
  });
}
