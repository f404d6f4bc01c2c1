// POST /api/listings/:id/licences/confirm {versionId, txHash}: after the creator's wallet sent
// KipLicences.publishVersion for a draft. The draft is published once the mined VersionPublished event of
// this deployment's KipLicences names the listing's slot and the draft's terms and files hashes.
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { confirmLicenceVersion } from "@/lib/licences/service";
import { licenceConfirmSchema } from "../schema";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    const { versionId, txHash } = await readJsonBody(request, licenceConfirmSchema);
    return json(await confirmLicenceVersion(address, id, versionId, txHash));
  });
}
