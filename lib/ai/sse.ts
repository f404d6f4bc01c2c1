// A UI message stream sent as server-sent events, the way the AI SDK's createUIMessageStreamResponse sends
// it (what useChat reads): each chunk as `data: <JSON>\n\n`, then `data: [DONE]\n\n`, as UTF-8, with the
// SDK's UI message stream headers under the caller's.
//
// The chat encodes each chunk where it is made instead of piping its chunk stream through the SDK's two
// transform streams (JSON to SSE, then text to bytes): each stage of a web stream pipe costs promises per
// chunk, and the two cost about 0.25 ms of CPU per answer on the chat benchmark's machine. A test holds the
// bytes and headers to createUIMessageStreamResponse's (tests/unit/sse.test.ts).
import { UI_MESSAGE_STREAM_HEADERS } from "ai";

/** One chunk as one event. */
export function sseEvent(chunk: unknown): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The event that ends the stream. */
export const SSE_DONE = "data: [DONE]\n\n";

/** The response for a stream of encoded events: the caller's headers, then the SDK's for those it did not set. */
export function uiMessageSseResponse(body: ReadableStream<Uint8Array>, headers: Record<string, string>): Response {
  const all = new Headers(headers);
  for (const [name, value] of Object.entries(UI_MESSAGE_STREAM_HEADERS)) if (!all.has(name)) all.set(name, value);
  return new Response(body, { headers: all });
}
