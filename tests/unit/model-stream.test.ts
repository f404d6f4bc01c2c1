// The chat's model call (lib/ai/stream.ts streamAnswer, the provider's doStream) against its reference,
// the same call through the AI SDK's streamText: the same text piece by piece, the same usage and finish
// reason, and the same errors, for the offline model and for an OpenAI-compatible endpoint over HTTP.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { APICallError } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OfflineExtractiveModel } from "@/lib/ai/offline-model";
import { buildContextMessage, buildInstructions } from "@/lib/ai/prompt";
import { streamAnswer, streamTextReference, type AnswerPart, type ModelCall } from "@/lib/ai/stream";
import { startStandIn, STAND_IN_HOST, type StandIn } from "../helpers/openai-stand-in";

async function collect(parts: AsyncGenerator<AnswerPart>): Promise<AnswerPart[]> {
  const out: AnswerPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

const context = buildContextMessage("Why do pelicans drain their pouch?", [
  { n: 1, dataset: "Birds", document: "b.txt", text: "Pelicans drain the water from the pouch before swallowing the fish. They nest on islands." },
  { n: 2, dataset: "Sea", document: "s.txt", text: "Lighthouses guide ships along rocky coasts at night." },
]);

function call(model: ModelCall["model"], extra: Partial<ModelCall> = {}): ModelCall {
  return {
    model,
    instructions: buildInstructions("Tutor."),
    messages: [
      { role: "user", content: "Hello" },
      { role: "assistant", content: "Hi. Ask me about birds." },
      { role: "user", content: context },
    ],
    maxOutputTokens: 500,
    ...extra,
  };
}

describe("streamAnswer and its reference (streamText)", () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn({ reply: () => "Pelicans drain the pouch first [1].", usage: (_r, n) => ({ prompt_tokens: 321, completion_tokens: n + 1 }) });
  });
  afterAll(() => standIn.stop());
  const endpoint = () => createOpenAICompatible({ name: "model-listing", baseURL: standIn.url, includeUsage: true }).chatModel("stand-in");

  it("streams the offline model's answer alike", async () => {
    const model = new OfflineExtractiveModel({ wordDelayMs: 0 });
    const ours = await collect(streamAnswer(call(model)));
    const reference = await collect(streamTextReference(call(model)));
    expect(ours).toEqual(reference);
    expect(ours.filter((p) => p.type === "text-delta").length).toBeGreaterThan(3);
    expect(ours.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
    const usage = (ours.at(-1) as Extract<AnswerPart, { type: "finish" }>).usage;
    expect(usage.inputTokens).toBeGreaterThan(10);
    expect(usage.outputTokens).toBeGreaterThan(3);
  });

  it("streams an endpoint's answer alike, with the usage it reports, and sends it the same request", async () => {
    const before = standIn.requests.length;
    const ours = await collect(streamAnswer(call(endpoint())));
    const reference = await collect(streamTextReference(call(endpoint())));
    expect(ours).toEqual(reference);
    expect(ours.map((p) => (p.type === "text-delta" ? p.text : "")).join("")).toBe("Pelicans drain the pouch first [1].");
    expect(ours.at(-1)).toEqual({ type: "finish", finishReason: "stop", usage: { inputTokens: 321, outputTokens: 7 } });
    const [mine, theirs] = standIn.requests.slice(before).map((r) => r.body);
    expect(mine).toEqual(theirs);
    expect(mine.messages?.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
  });

  it("throws the endpoint's error alike", async () => {
    const down = await startStandIn({ mode: "fail" });
    try {
      const model = createOpenAICompatible({ name: "model-listing", baseURL: down.url }).chatModel("stand-in");
      const errors = await Promise.all([collect(streamAnswer(call(model))).catch((e) => e), collect(streamTextReference(call(model))).catch((e) => e)]);
      for (const error of errors) {
        expect(APICallError.isInstance(error)).toBe(true);
        expect((error as APICallError).statusCode).toBe(500);
      }
    } finally {
      await down.stop();
    }
  });

  it("stops when aborted, and the endpoint sees the connection close", async () => {
    const slow = await startStandIn({ reply: () => "one two three four five six seven eight", tokenDelayMs: 30 });
    try {
      const model = createOpenAICompatible({ name: "model-listing", baseURL: slow.url }).chatModel("stand-in");
      for (const stream of [streamAnswer, streamTextReference]) {
        const abort = new AbortController();
        const seen: string[] = [];
        const outcome = await (async () => {
          for await (const part of stream(call(model, { abortSignal: abort.signal }))) {
            if (part.type === "text-delta") seen.push(part.text);
            if (seen.length === 2) abort.abort(new Error("stopped by the user"));
          }
          return "finished";
        })().catch(() => "threw");
        expect(outcome).toBe("threw");
        expect(seen.length).toBe(2);
      }
      await expect.poll(() => slow.requests.filter((r) => r.closedEarly).length).toBe(2);
    } finally {
      await slow.stop();
    }
  });

  it("ends at once when aborted while waiting for the next token, however slow the endpoint", async () => {
    const slow = await startStandIn({ reply: () => "one two three four", tokenDelayMs: 2_000 });
    try {
      const model = createOpenAICompatible({ name: "model-listing", baseURL: slow.url }).chatModel("stand-in");
      const abort = new AbortController();
      const started = performance.now();
      const seen: string[] = [];
      const outcome = await (async () => {
        for await (const part of streamAnswer(call(model, { abortSignal: abort.signal }))) {
          if (part.type === "text-delta") {
            seen.push(part.text);
            // The limit falls while the next token is 2 s away.
            setTimeout(() => abort.abort(new Error("time limit")), 100);
          }
        }
        return "finished";
      })().catch((e: Error) => e.message);
      expect(outcome).toBe("time limit");
      expect(seen).toEqual(["one "]);
      // The next token was 2 s away: anything under that means the abort ended the wait (with room for a busy machine).
      expect(performance.now() - started).toBeLessThan(1_900);
      await expect.poll(() => slow.requests.at(-1)?.closedEarly).toBe(true);
    } finally {
      await slow.stop();
    }
  });

  it("fails a stream cut off before the endpoint finished, as the reference does", async () => {
    // An endpoint that sends one token and hangs up without a finish reason.
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(`data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: "Half " }, finish_reason: null }] })}\n\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, STAND_IN_HOST, resolve));
    try {
      const url = `http://${STAND_IN_HOST}:${(server.address() as AddressInfo).port}/v1`;
      const model = createOpenAICompatible({ name: "model-listing", baseURL: url }).chatModel("m");
      const outcomes = [];
      for (const stream of [streamAnswer, streamTextReference]) {
        const parts: AnswerPart[] = [];
        const error = await (async () => {
          for await (const part of stream(call(model))) parts.push(part);
        })().catch((e: unknown) => e);
        outcomes.push({ parts, error: error instanceof Error ? error.name : error });
      }
      expect(outcomes[0]).toEqual(outcomes[1]);
      // What came before the cut is delivered; then the call fails (so the answer is voided, not charged as complete).
      expect(outcomes[0]).toEqual({ parts: [{ type: "text-delta", text: "Half " }], error: "AI_InvalidResponseDataError" });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
