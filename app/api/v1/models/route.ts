// GET /api/v1/models: the apps an API key may call, as OpenAI's model list (id = the app's listing id).
import { listModels } from "@/lib/api/completions";
import { openAiErrorResponse } from "@/lib/api/errors";
import { authenticateApiKey } from "@/lib/api/keys";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const db = getDb();
    const key = await authenticateApiKey(db, request.headers.get("authorization"), serverEnv().ENCRYPTION_KEY);
    return Response.json(await listModels(db, chatChain(), key), { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return openAiErrorResponse(error);
  }
}
