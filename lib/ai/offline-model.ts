// The built-in offline model as an AI SDK LanguageModel (specification v4). It is NOT a language model
// in the usual sense: it has no weights and generates nothing. It reads the prompt it is given (the
// numbered <source> passages and the question of the last user message, lib/ai/prompt.ts), picks the
// passages' best-matching sentences with `answerExtractively` (lib/ai/offline.ts) and streams them back
// word by word with their citations. Its provider name says so wherever the SDK reports it.
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
  LanguageModelV4Usage,
} from "@ai-sdk/provider";
import { answerExtractively, OFFLINE_MODEL_NAME } from "./offline";
import { parseContextMessage } from "./prompt";

export const OFFLINE_PROVIDER = "kip-offline-extractive";

function lastUserText(options: LanguageModelV4CallOptions): string {
  for (let i = options.prompt.length - 1; i >= 0; i--) {
    const message = options.prompt[i];
    if (message.role !== "user") continue;
    return message.content
      .filter((part): part is Extract<typeof part, { type: "text" }> => part.type === "text")
      .map((part) => part.text)
      .join("\n");
  }
  return "";
}

function compose(options: LanguageModelV4CallOptions): string {
  const text = lastUserText(options);
  const parsed = parseContextMessage(text);
  if (!parsed) return answerExtractively(text, []);
  return answerExtractively(
    parsed.question,
    parsed.sources.map((s) => ({ index: s.n, text: s.text })),
  );
}

/** All the text the model was given: instructions, history and the last message. */
function promptText(options: LanguageModelV4CallOptions): string {
  return options.prompt
    .map((message) =>
      typeof message.content === "string"
        ? message.content
        : message.content.map((part) => ("text" in part && typeof part.text === "string" ? part.text : "")).join("\n"),
    )
    .join("\n");
}

function usage(prompt: string, answer: string): LanguageModelV4Usage {
  // Words, not tokens: the offline model has no tokenizer and streams one word per piece, so a stopped
  // answer's streamed pieces and a finished answer's count agree. Metered prices are charged on these.
  const words = (s: string) => (s.match(/\S+/g) ?? []).length;
  const output = words(answer);
  return {
    inputTokens: { total: words(prompt), noCache: words(prompt), cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}

export interface OfflineModelOptions {
  /** Pause between streamed words (ms). 0 streams as fast as the consumer reads. */
  wordDelayMs?: number;
}

export class OfflineExtractiveModel implements LanguageModelV4 {
  readonly specificationVersion = "v4" as const;
  readonly provider = OFFLINE_PROVIDER;
  readonly modelId = OFFLINE_MODEL_NAME;
  readonly supportedUrls = {};
  private readonly wordDelayMs: number;

  constructor({ wordDelayMs = 12 }: OfflineModelOptions = {}) {
    this.wordDelayMs = wordDelayMs;
  }

  async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const answer = compose(options);
    return {
      content: [{ type: "text", text: answer }],
      finishReason: { unified: "stop", raw: "stop" },
      usage: usage(promptText(options), answer),
      warnings: [],
      response: { modelId: this.modelId, timestamp: new Date() },
    };
  }

  async doStream(options: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    const answer = compose(options);
    const pieces = answer.match(/\S+\s*/g) ?? [];
    const delay = this.wordDelayMs;
    const signal = options.abortSignal;
    let index = 0;
    let started = false;
    const stream = new ReadableStream<LanguageModelV4StreamPart>({
      pull: async (controller) => {
        if (!started) {
          started = true;
          controller.enqueue({ type: "stream-start", warnings: [] });
          controller.enqueue({ type: "response-metadata", modelId: this.modelId, timestamp: new Date() });
          controller.enqueue({ type: "text-start", id: "answer" });
          return;
        }
        if (signal?.aborted) {
          controller.error(signal.reason ?? new DOMException("aborted", "AbortError"));
          return;
        }
        if (index < pieces.length) {
          if (delay > 0 && index > 0) await new Promise((resolve) => setTimeout(resolve, delay));
          controller.enqueue({ type: "text-delta", id: "answer", delta: pieces[index++] });
          return;
        }
        controller.enqueue({ type: "text-end", id: "answer" });
        controller.enqueue({ type: "finish", finishReason: { unified: "stop", raw: "stop" }, usage: usage(promptText(options), answer) });
        controller.close();
      },
    });
    return { stream };
  }
}
