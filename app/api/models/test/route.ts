// POST /api/models/test: send one real chat completion to an endpoint (or run the offline model on a
// sample) and answer with what came back. Signed-in callers only: the server makes the request.
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, json } from "@/lib/http/route";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { testOfflineModel, testOpenAiCompatible } from "@/lib/models/test-connection";
import { testBodySchema } from "./schema";

export async function POST(request: Request) {
  return handle(async () => {
    const { address } = await callerOf(request);
    await enforceRouteLimit(request, "modelTest", address);
    const body = await readJsonBody(request, testBodySchema);
    return json(body.provider === "offline" ? testOfflineModel() : await testOpenAiCompatible(body));
  });
}
