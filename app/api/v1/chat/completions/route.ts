// POST /api/v1/chat/completions: OpenAI's chat completions for KIP apps (`model` = the app's id or slug),
// authorized by an API key (Authorization: Bearer kip_…). Each request is one paid query, admitted,
// charged and settled like a chat message (lib/api/completions.ts). Errors come in OpenAI's shape.
import type { PromptTurn } from "@/lib/ai/prompt";
import { answerApiRequest, resolveApiApp } from "@/lib/api/completions";
import { openAiErrorResponse } from "@/lib/api/errors";
import { authenticateApiKey, touchApiKey } from "@/lib/api/keys";
import { assertModelAvailable } from "@/lib/chat/charges";
import { assertWithinLimits, chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { readJsonBody } from "@/lib/errors";
import { answerTimeLimitMs, serverEnv } from "@/lib/env";
import { clientAddress } from "@/lib/http/client-address";
import { modelFetch } from "@/lib/net/model-fetch";
import { completionBodySchema, MAX_COMPLETION_BODY_BYTES, textOf } from "./schema";

export const dynamic = "force-dynamic";
export const maxDuration = 120;

export async function POST(request: Request): Promise<Response> {
  try {
    const env = serverEnv();
    const db = getDb();
    const key = await authenticateApiKey(db, request.headers.get("authorization"), env.ENCRYPTION_KEY);
    await Promise.all([assertWithinLimits(db, key.owner, clientAddress(request, env.TRUSTED_PROXY_HOPS)), touchApiKey(db, key.id)]);
    const body = await readJsonBody(request, completionBodySchema, { maxBytes: MAX_COMPLETION_BODY_BYTES });
    const chain = chatChain();
    const app = await resolveApiApp(db, chain, key, body.model);
    await assertModelAvailable(db, app, env.MODEL_PROBE_INTERVAL_MS);
    // The caller's system and developer messages reach the model as turns of the user's, under the
    // app's own instructions (which stay private to the app's creator).
    const history = body.messages.slice(0, -1).map(
      (m): PromptTurn => ({ role: m.role === "assistant" ? "assistant" : "user", text: m.role === "system" || m.role === "developer" ? `(Instructions from the caller) ${textOf(m)}` : textOf(m) }),
    );
    return await answerApiRequest({
      db,
      app,
      model: body.model,
      owner: key.owner,
      question: textOf(body.messages.at(-1)!).trim(),
      history,
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      chain,
      key,
      encryptionKey: env.ENCRYPTION_KEY,
      modelFetch: modelFetch(),
      signal: request.signal,
      timeLimitMs: answerTimeLimitMs(env),
    });
  } catch (error) {
    return openAiErrorResponse(error);
  }
}
