// The chat's SSE encoding (lib/ai/sse.ts) against the AI SDK's createUIMessageStreamResponse, the
// reference: the same bytes for the same chunks (text in any script, metadata, data parts, errors) and
// the same headers, the caller's taking precedence.
import { createUIMessageStreamResponse, readUIMessageStream, type UIMessageChunk } from "ai";
import { describe, expect, it } from "vitest";
import { SSE_DONE, sseEvent, uiMessageSseResponse } from "@/lib/ai/sse";

const chunks: UIMessageChunk[] = [
  { type: "start", messageId: "m1", messageMetadata: { createdAt: 1, charge: { receiptId: "r1", status: "answering", maxTotal: "1000" } } },
  { type: "data-sources", id: "sources", data: { sources: [{ n: 1, text: "Pelicans drain the pouch.\n\"Quoted\" \\ back\u2028slash" }] } },
  { type: "message-metadata", messageMetadata: { retrieval: "bm25" } },
  { type: "text-start", id: "answer" },
  { type: "text-delta", id: "answer", delta: "Réplication " },
  { type: "text-delta", id: "answer", delta: "设置 😀 " },
  { type: "text-delta", id: "answer", delta: "[1]." },
  { type: "text-end", id: "answer" },
  { type: "error", errorText: "the model stopped" },
  { type: "finish" },
];

function chunkStream(): ReadableStream<UIMessageChunk> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
}

function encodedStream(): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(sseEvent(chunks[i++])));
      else {
        controller.enqueue(encoder.encode(SSE_DONE));
        controller.close();
      }
    },
  });
}

describe("the chat's SSE response", () => {
  it("sends the bytes createUIMessageStreamResponse sends", async () => {
    const headers = { "Cache-Control": "no-store, no-transform" };
    const reference = createUIMessageStreamResponse({ stream: chunkStream(), headers });
    const ours = uiMessageSseResponse(encodedStream(), headers);
    expect(new Uint8Array(await ours.arrayBuffer())).toEqual(new Uint8Array(await reference.arrayBuffer()));
    expect([...ours.headers.entries()].sort()).toEqual([...reference.headers.entries()].sort());
    expect(ours.headers.get("cache-control")).toBe("no-store, no-transform");
    expect(ours.headers.get("content-type")).toBe("text/event-stream");
    expect(ours.status).toBe(200);
  });

  it("is read back by the SDK as the same message", async () => {
    const text = await new Response(uiMessageSseResponse(encodedStream(), {}).body).text();
    const events = text.split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)) as UIMessageChunk);
    expect(parsed).toEqual(chunks);
    let last;
    const readable = new ReadableStream<UIMessageChunk>({
      start(controller) {
        for (const chunk of parsed.filter((c) => c.type !== "error")) controller.enqueue(chunk);
        controller.close();
      },
    });
    for await (const message of readUIMessageStream({ stream: readable })) last = message;
    expect(last?.parts.find((p) => p.type === "text")).toMatchObject({ text: "Réplication 设置 😀 [1]." });
  });
});
