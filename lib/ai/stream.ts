// One answer streamed from a language model through the AI SDK's provider interface (doStream), the
// chat's path to every model (OpenAI-compatible endpoints and the offline model alike).
//
// An answer is one call: a system prompt, text turns, no tools, no retries. `streamText` wraps that call
// in what this does not use (steps, tool calls, callbacks, telemetry, the stream split into several
// consumers), and that wrapping cost about 1.5 ms of CPU per answer on the chat benchmark's machine,
// about a tenth of a paid message's whole cost. So the chat calls the model itself; `streamTextReference`
// below streams the same call through `streamText`, and a test holds the two to the same text, usage
// and finish reason (tests/unit/model-stream.test.ts).
import type { LanguageModelV4, LanguageModelV4Prompt } from "@ai-sdk/provider";
import { streamText } from "ai";

export interface AnswerTurn {
  role: "user" | "assistant";
  content: string;
}

export interface ModelCall {
  model: LanguageModelV4;
  instructions: string;
  messages: readonly AnswerTurn[];
  maxOutputTokens: number;
  abortSignal?: AbortSignal;
  /** Headers of this call (the endpoint's API key: lib/ai/providers.ts). */
  headers?: Record<string, string>;
}

/** What the chat reads of a model's stream. Errors are thrown, never yielded. */
export type AnswerPart =
  | { type: "text-delta"; text: string }
  | { type: "reasoning-delta"; text: string }
  /** The last part. `usage` is what the provider reported, when it did. */
  | { type: "finish"; finishReason: string; usage: { inputTokens?: number; outputTokens?: number } };

/** The call's prompt as the provider interface takes it. */
export function answerPrompt(instructions: string, messages: readonly AnswerTurn[]): LanguageModelV4Prompt {
  return [
    { role: "system", content: instructions },
    ...messages.map((m) => ({ role: m.role, content: [{ type: "text" as const, text: m.content }] })),
  ];
}

/**
 * Streams the answer. An error the provider streams is thrown (as the error it gave); a stream that ends
 * without the provider's finish part finishes as "interrupted" (the output may be incomplete).
 */
export async function* streamAnswer(call: ModelCall): AsyncGenerator<AnswerPart> {
  if (!Number.isInteger(call.maxOutputTokens) || call.maxOutputTokens < 1) throw new Error("maxOutputTokens must be a positive integer");
  const { stream } = await call.model.doStream({
    prompt: answerPrompt(call.instructions, call.messages),
    maxOutputTokens: call.maxOutputTokens,
    abortSignal: call.abortSignal,
    headers: call.headers,
  });
  const reader = stream.getReader();
  // An abort ends the answer at once, whether or not the provider's stream notices it (as streamText does):
  // each read races the signal, and the stream is cancelled below, which closes the model's connection.
  const signal = call.abortSignal;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      switch (value.type) {
        case "text-delta":
          if (value.delta) yield { type: "text-delta", text: value.delta };
          break;
        case "reasoning-delta":
          if (value.delta) yield { type: "reasoning-delta", text: value.delta };
          break;
        case "error":
          throw value.error;
        case "finish":
          yield {
            type: "finish",
            finishReason: value.finishReason.unified,
            usage: { inputTokens: value.usage.inputTokens.total, outputTokens: value.usage.outputTokens.total },
          };
          return;
      }
    }
    yield { type: "finish", finishReason: "interrupted", usage: {} };
  } finally {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    // An answer abandoned early (an error, a stop) releases the provider's stream and its connection.
    reader.cancel().catch(() => undefined);
  }
}

/** The same call through `streamText`: the reference `streamAnswer` is tested against. */
export async function* streamTextReference(call: ModelCall): AsyncGenerator<AnswerPart> {
  const result = streamText({
    model: call.model,
    instructions: call.instructions,
    messages: call.messages.map((m) => ({ role: m.role, content: m.content })),
    maxOutputTokens: call.maxOutputTokens,
    abortSignal: call.abortSignal,
    headers: call.headers,
    maxRetries: 0,
    onError: () => undefined,
  });
  for await (const part of result.stream) {
    if (part.type === "text-delta" && part.text) yield { type: "text-delta", text: part.text };
    else if (part.type === "reasoning-delta" && part.text) yield { type: "reasoning-delta", text: part.text };
    else if (part.type === "error") throw part.error;
    else if (part.type === "abort") throw call.abortSignal?.reason ?? new Error("aborted");
    else if (part.type === "finish") {
      yield { type: "finish", finishReason: part.finishReason, usage: { inputTokens: part.totalUsage.inputTokens, outputTokens: part.totalUsage.outputTokens } };
      return;
    }
  }
}
