// POST /api/models/:id/test: test a stored model with its stored (decrypted on the server) API key.
import { decryptString, modelApiKeyAad } from "@/lib/crypto";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { ownedListing } from "@/lib/listings/service";
import { testOfflineModel, testOpenAiCompatible } from "@/lib/models/test-connection";

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await callerOf(request);
    await ownedListing(id, address);
    const model = await getDb().modelEndpoint.findUnique({ where: { listingId: id } });
    if (!model) throw new AppError("not_found", "This listing is not a model.");
    if (model.provider === "offline") return json(testOfflineModel());
    const apiKey = model.apiKeyEncrypted ? decryptString(model.apiKeyEncrypted, serverEnv().ENCRYPTION_KEY, modelApiKeyAad(id)) : null;
    return json(await testOpenAiCompatible({ baseUrl: model.baseUrl!, modelName: model.modelName, apiKey }));
  });
}
