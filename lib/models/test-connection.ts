import "server-only";
// "Test connection" for a model listing: one real request to the endpoint's OpenAI-compatible
// /chat/completions (with the API key, on the server only), or one run of the built-in offline model on a
// sample, and what came back. Nothing here is cached or made up: a failure says what failed.
import { answerExtractively, OFFLINE_MODEL_NAME } from "@/lib/ai/offline";
import { httpStatusSummary, modelFailureSummary } from "@/lib/ai/failures";
import { AppError } from "@/lib/errors";
import { modelFetch } from "@/lib/net/model-fetch";
import { readCapped } from "@/lib/net/read-capped";

export const TEST_PROMPT = "Reply with one short sentence that says which model you are.";
const TIMEOUT_MS = 15_000;
/** A test reply is one sentence: more than this is not read. */
const MAX_REPLY_BYTES = 64 * 1024;
const MAX_SHOWN_REPLY_CHARS = 300;

export interface ConnectionResult {
  ok: true;
  provider: "openai-compatible" | "offline";
  model: string;
  reply: string;
  latencyMs: number;
  usage?: { promptTokens?: number; completionTokens?: number };
}

const SAMPLE_SOURCE =
  "The offline model answers by quoting the passages of an app's datasets that best match the question. It needs no weights and no network.";

export function testOfflineModel(): ConnectionResult {
  const started = performance.now();
  const reply = answerExtractively("How does the offline model answer?", [{ index: 1, text: SAMPLE_SOURCE }]);
  return { ok: true, provider: "offline", model: OFFLINE_MODEL_NAME, reply, latencyMs: Math.round(performance.now() - started) };
}

/** Send one chat completion; throws an AppError (upstream_unavailable / bad_request) describing the failure. */
export async function testOpenAiCompatible({ baseUrl, modelName, apiKey }: { baseUrl: string; modelName: string; apiKey?: string | null }): Promise<ConnectionResult> {
  const started = performance.now();
  let response: Response;
  try {
    response = await modelFetch()(`${baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ model: modelName, messages: [{ role: "user", content: TEST_PROMPT }], max_tokens: 64, temperature: 0, stream: false }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : modelFailureSummary(error);
    throw new AppError("upstream_unavailable", `Could not reach ${baseUrl}: ${reason}.`, { cause: error });
  }
  // What comes back is summarized, never echoed: the endpoint could be anything.
  const text = await readCapped(response, MAX_REPLY_BYTES);
  if (!response.ok) {
    throw new AppError("upstream_unavailable", `${baseUrl}: ${httpStatusSummary(response.status)}.`);
  }
  let body: { model?: string; choices?: { message?: { content?: string | null } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("upstream_unavailable", `${baseUrl} answered ${response.status}, but not with JSON (${text.length} characters): is it an OpenAI-compatible endpoint?`);
  }
  const reply = body.choices?.[0]?.message?.content;
  if (typeof reply !== "string") {
    throw new AppError("upstream_unavailable", `${baseUrl} answered, but not in the chat-completions shape (no choices[0].message.content).`);
  }
  return {
    ok: true,
    provider: "openai-compatible",
    model: body.model ?? modelName,
    reply: reply.trim().slice(0, MAX_SHOWN_REPLY_CHARS),
    latencyMs: Math.round(performance.now() - started),
    usage: body.usage ? { promptTokens: body.usage.prompt_tokens, completionTokens: body.usage.completion_tokens } : undefined,
  };
}
