// A local OpenAI-compatible HTTP server for tests and the benchmark: POST /v1/chat/completions streams
// the reply as SSE chunks (or answers once without `stream`), POST /v1/embeddings returns vectors, GET
// /v1/models lists its one model (what health probes ask for). It records every chat and embeddings
// request it receives, and whether the caller hung up before the reply was complete; model-list requests
// (probes) are recorded apart, in `probes`, so a probe arriving in the middle of a test changes no count.
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Stand-in model endpoints listen on this loopback address, the one the test stack's MODEL_HOSTS_ALLOW
 * names: every other internal address (127.0.0.1 included) stays refused by the outbound policy, so
 * tests can show both sides of it.
 */
export const STAND_IN_HOST = "127.0.0.2";

export interface StandInRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: {
    model?: string;
    stream?: boolean;
    messages?: { role: string; content: string | { type: string; text?: string }[] }[];
    input?: string | string[];
  };
  /** True when the caller closed the connection before the reply was complete. */
  closedEarly: boolean;
  /** Milliseconds from the request's arrival to its first streamed token (the model's own latency). */
  firstTokenMs?: number;
}

export interface StandInOptions {
  /** The reply to a chat request (default: a fixed sentence citing [1]). */
  reply?: (request: StandInRequest) => string;
  /** Pause between streamed tokens. */
  tokenDelayMs?: number;
  /** Pause before the first streamed token (the model "thinking"). */
  firstTokenDelayMs?: number;
  /** The usage the reply reports (default: 10 prompt tokens, one completion token per streamed piece). */
  usage?: (request: StandInRequest, completionTokens: number) => { prompt_tokens: number; completion_tokens: number };
  /** "fail": answer 500; "ok": stream the reply. */
  mode?: "ok" | "fail";
  /** GET /models: "ok" lists the model, "fail" answers 500, "missing" answers 404 (default "ok"). */
  models?: "ok" | "fail" | "missing";
  /** Pause before answering GET /models. */
  modelsDelayMs?: number;
}

export interface StandIn {
  url: string;
  requests: StandInRequest[];
  /** GET /models requests (health probes), with when they arrived (performance.now()). */
  probes: { path: string; headers: http.IncomingHttpHeaders; at: number }[];
  options: StandInOptions;
  stop(): Promise<void>;
}

/** Text of a message's content, whether a string or parts. */
export function contentText(content: string | { type: string; text?: string }[] | undefined): string {
  if (typeof content === "string") return content;
  return (content ?? []).map((p) => p.text ?? "").join("");
}

function embedding(text: string): number[] {
  // Deterministic bag-of-letters vector: enough for fusion to have a second opinion.
  const vector = new Array<number>(26).fill(0);
  for (const ch of text.toLowerCase()) {
    const i = ch.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) vector[i] += 1;
  }
  return vector;
}

export async function startStandIn(options: StandInOptions = {}, port = 0): Promise<StandIn> {
  const requests: StandInRequest[] = [];
  const probes: StandIn["probes"] = [];
  const server = http.createServer((req, res) => {
    const arrived = performance.now();
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      probes.push({ path: req.url, headers: req.headers, at: arrived });
      const answer = () => {
        if (options.models === "fail") return res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "down" } }));
        if (options.models === "missing") return res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "stand-in-chat", object: "model", owned_by: "tests" }] }));
      };
      if (options.modelsDelayMs) setTimeout(answer, options.modelsDelayMs);
      else answer();
      return;
    }
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const record: StandInRequest = { path: req.url ?? "", headers: req.headers, body: raw ? JSON.parse(raw) : {}, closedEarly: false };
      requests.push(record);
      if (req.url?.endsWith("/embeddings")) {
        const inputs = Array.isArray(record.body.input) ? record.body.input : [record.body.input ?? ""];
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            object: "list",
            data: inputs.map((text, index) => ({ object: "embedding", index, embedding: embedding(text) })),
            model: record.body.model,
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        );
        return;
      }
      if (!req.url?.endsWith("/chat/completions")) {
        res.writeHead(404).end();
        return;
      }
      if (options.mode === "fail") {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "the stand-in model is down", type: "server_error" } }));
        return;
      }
      const reply = options.reply?.(record) ?? "The stand-in model answers from source [1].";
      const created = Math.floor(Date.now() / 1000);
      const base = { id: "chatcmpl-stand-in", object: "chat.completion.chunk", created, model: record.body.model ?? "stand-in" };
      if (!record.body.stream) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            ...base,
            object: "chat.completion",
            choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
            usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      const tokens = reply.match(/\S+\s*/g) ?? [];
      let i = 0;
      let finished = false;
      res.on("close", () => {
        if (!finished) record.closedEarly = true;
      });
      const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      const next = () => {
        if (res.destroyed) return;
        if (i < tokens.length) {
          if (i === 0) record.firstTokenMs = performance.now() - arrived;
          send({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: tokens[i] } : { content: tokens[i] }, finish_reason: null }] });
          i++;
          if (options.tokenDelayMs) setTimeout(next, options.tokenDelayMs);
          else setImmediate(next);
          return;
        }
        const usage = options.usage?.(record, tokens.length) ?? { prompt_tokens: 10, completion_tokens: tokens.length };
        send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
        res.write("data: [DONE]\n\n");
        finished = true;
        res.end();
      };
      if (options.firstTokenDelayMs) setTimeout(next, options.firstTokenDelayMs);
      else next();
    });
  });
  // Longer than any client keeps an idle connection, so a reused socket is never closed under it.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, STAND_IN_HOST, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${STAND_IN_HOST}:${bound}/v1`,
    requests,
    probes,
    options,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
