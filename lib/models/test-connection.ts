import "server-only";
// "Test connection" for a model listing: one real request to the endpoint's OpenAI-compatible
// /chat/completions (with the API key, on the server only), or one run of the built-in offline model on a
// sample, and what came back. Nothing here is cached or made up: a failure says what failed.
import { answerExtractively, OFFLINE_MODEL_NAME } from "@/lib/ai/offline";
import { AppError } from "@/lib/errors";

export const TEST_PROMPT = "Reply with one short sentence that says which model you are.";
const TIMEOUT_MS = 15_000;

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

/** The most specific reason in a fetch failure's cause chain: a system error code, else its message. */
function networkReason(error: unknown): string {
  let current = error as { code?: string; message?: string; cause?: unknown; errors?: { code?: string }[] } | undefined;
  let message = (error as Error)?.message ?? "unknown error";
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.code && current.code.startsWith("E")) return current.code;
    const nested = current.errors?.find((e) => e.code)?.code;
    if (nested) return nested;
    if (current !== error && current.message) message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}

/** Send one chat completion; throws an AppError (upstream_unavailable / bad_request) describing the failure. */
export async function testOpenAiCompatible({ baseUrl, modelName, apiKey }: { baseUrl: string; modelName: string; apiKey?: string | null }): Promise<ConnectionResult> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ model: modelName, messages: [{ role: "user", content: TEST_PROMPT }], max_tokens: 64, temperature: 0, stream: false }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: "error",
    });
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : networkReason(error);
    throw new AppError("upstream_unavailable", `Could not reach ${baseUrl}: ${reason}.`, { cause: error });
  }
  const text = await response.text();
  if (!response.ok) {
    let detail = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: { message?: string } | string };
      detail = typeof body.error === "string" ? body.error : (body.error?.message ?? detail);
    } catch {
      // not JSON: keep the start of the text
    }
    const hint = response.status === 401 || response.status === 403 ? " (check the API key)" : response.status === 404 ? " (check the base URL and model id)" : "";
    throw new AppError("upstream_unavailable", `${baseUrl} answered ${response.status}${hint}: ${detail || response.statusText}`);
  }
  let body: { model?: string; choices?: { message?: { content?: string | null } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("upstream_unavailable", `${baseUrl} answered with something that is not JSON: ${text.slice(0, 120)}`);
  }
  const reply = body.choices?.[0]?.message?.content;
  if (typeof reply !== "string") {
    throw new AppError("upstream_unavailable", `${baseUrl} answered, but not in the chat-completions shape (no choices[0].message.content).`);
  }
  return {
    ok: true,
    provider: "openai-compatible",
    model: body.model ?? modelName,
    reply: reply.trim(),
    latencyMs: Math.round(performance.now() - started),
    usage: body.usage ? { promptTokens: body.usage.prompt_tokens, completionTokens: body.usage.completion_tokens } : undefined,
  };
}
