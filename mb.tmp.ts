import { createUIMessageStreamResponse, UI_MESSAGE_STREAM_HEADERS } from "ai";
const chunks: any[] = [{ type: "start", messageId: "abc", messageMetadata: { createdAt: 1, charge: { receiptId: "r", status: "answering", maxTotal: "100" } } },
  { type: "data-sources", id: "sources", data: { sources: [{ n: 1, text: "x".repeat(800) }, { n: 2, text: "y".repeat(800) }] } }, { type: "message-metadata", messageMetadata: { retrieval: "bm25" } }, { type: "text-start", id: "answer" },
  ...Array.from({ length: 10 }, (_, i) => ({ type: "text-delta", id: "answer", delta: `word${i} ` })), { type: "text-end", id: "answer" }, { type: "message-metadata", messageMetadata: { charge: { total: "5" } } }, { type: "finish" }];
function source(direct: boolean) {
  // Chunks arrive over several ticks like a model's stream.
  let i = 0;
  const encoder = new TextEncoder();
  return new ReadableStream<any>({
    async pull(controller) {
      await new Promise((r) => setImmediate(r));
      if (i < chunks.length) controller.enqueue(direct ? encoder.encode(`data: ${JSON.stringify(chunks[i++])}\n\n`) : chunks[i++]);
      else { if (direct) controller.enqueue(encoder.encode("data: [DONE]\n\n")); controller.close(); }
    },
  });
}
async function read(r: Response) { const reader = r.body!.getReader(); let n = 0; for (;;) { const { done, value } = await reader.read(); if (done) break; n += value.length; } return n; }
const lib = () => createUIMessageStreamResponse({ stream: source(false), headers: { "Cache-Control": "no-store, no-transform" } });
const direct = () => new Response(source(true), { headers: { ...UI_MESSAGE_STREAM_HEADERS, "Cache-Control": "no-store, no-transform" } });
console.log(await read(lib()), await read(direct()));
for (const [name, f] of [["lib", lib], ["direct", direct], ["lib", lib], ["direct", direct]] as const) {
  for (let i = 0; i < 300; i++) await read(f());
  const c0 = process.cpuUsage(); const n = 2000;
  for (let i = 0; i < n; i++) await read(f());
  const c = process.cpuUsage(c0); console.log(name, ((c.user + c.system) / n / 1000).toFixed(3), "cpu-ms");
}
