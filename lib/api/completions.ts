// The OpenAI-compatible API's answers. A request is a query like any chat message: the same app loading,
// admission (lib/chat/admission.ts) and answer stream (lib/chat/answer.ts), so it is charged, settled and
// recorded on chain the same way. What differs is who signs: the server signs the next voucher with the
// key's session key, after checking the key's day and month caps under the payer's admission lock (the
// total cap is the session's spend cap, which admission checks), so concurrent requests of one key, on
// any number of servers, never spend past a cap. The UI message stream is then rewritten as OpenAI's
// chat.completion (or chat.completion.chunk events), with the sources as `kip_sources`.
import { generateId } from "ai";
import type { Address, Hex } from "viem";
import type { Db } from "@/lib/db-client";
import type { Prisma } from "@/lib/generated/prisma/client";
import type { PromptTurn } from "@/lib/ai/prompt";
import { admitFreeQuestion, admitVoucher, withPayerLock } from "@/lib/chat/admission";
import { answerStream } from "@/lib/chat/answer";
import { loadChatApp, type ChainContext, type ChatApp } from "@/lib/chat/charges";
import { ChatError } from "@/lib/chat/errors";
import type { IndexVersions } from "@/lib/rag/search";
import { sessionSpendWindows, type QuestionRecord } from "@/lib/chat/store";
import type { MessageCharge, SourceRef } from "@/lib/chat/types";
import { signVoucherWith } from "@/lib/protocol";
import { serverKeccak } from "@/lib/chat/keccak";
import { signDigest } from "@/lib/chat/secp256k1";
import { ApiError, toOpenAiError } from "./errors";
import type { AuthenticatedKey } from "./keys";

const LISTING_ID = /^[a-z0-9]{20,40}$/;

/** An app's slug: its name in lower case, words joined by "-" (the id always works too). */
export function appSlug(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);
}

function listedApps(db: Db, chain: Pick<ChainContext, "chainId" | "assets">) {
  return db.listing.findMany({
    where: { kind: "app", status: "listed", chainId: chain.chainId, assets: { equals: chain.assets, mode: "insensitive" } },
    select: { id: true, name: true, creator: true, createdAt: true, description: true, pricePerQuery: true },
    orderBy: { createdAt: "asc" },
    take: 1000,
  });
}

/** GET /api/v1/models: the apps this key may call, as OpenAI's model list. */
export async function listModels(db: Db, chain: ChainContext, key: Pick<AuthenticatedKey, "allowedApps">) {
  const apps = (await listedApps(db, chain)).filter((a) => key.allowedApps.length === 0 || key.allowedApps.includes(a.id));
  return {
    object: "list" as const,
    data: apps.map((a) => ({
      id: a.id,
      object: "model" as const,
      created: Math.floor(a.createdAt.getTime() / 1000),
      owned_by: a.creator,
      kip_slug: appSlug(a.name),
      kip_name: a.name,
      kip_description: a.description,
    })),
  };
}

const notFound = (model: string) =>
  new ApiError("not_found", "model_not_found", `The model '${model.slice(0, 80)}' does not exist: name an app by its id or slug (GET /api/v1/models).`, "model");

/** The app a request's `model` names (its listing id, or its slug when that is unique), if the key may call it. */
export async function resolveApiApp(db: Db, chain: ChainContext, key: Pick<AuthenticatedKey, "allowedApps">, model: string): Promise<ChatApp> {
  let id = model;
  if (!LISTING_ID.test(model)) {
    const matches = (await listedApps(db, chain)).filter((a) => appSlug(a.name) === model.toLowerCase());
    if (matches.length === 0) throw notFound(model);
    if (matches.length > 1) throw new ApiError("not_found", "model_not_found", `Several apps have the slug '${model}': name one by its id (GET /api/v1/models).`, "model");
    id = matches[0].id;
  }
  let app: ChatApp;
  try {
    app = await loadChatApp(db, chain, id);
  } catch (error) {
    if (error instanceof ChatError && error.code === "not_found") throw notFound(model);
    throw error;
  }
  if (key.allowedApps.length > 0 && !key.allowedApps.includes(app.id)) {
    throw new ApiError("forbidden", "model_not_allowed", `This API key may not call '${model.slice(0, 80)}'.`, "model");
  }
  return app;
}

/**
 * How long an API query is signed and admitted again while other queries of its wallet (its browser tabs,
 * which take no lock) keep taking the account's next number first. Each retry follows one of theirs being
 * admitted, so the account moves on meanwhile; only a wallet whose tabs take a number every few
 * milliseconds for this long makes its API query give up (409, nonce_used).
 */
export const ADMISSION_RETRY_MS = 5_000;

/**
 * `admit` until it succeeds, again after each nonce_used refusal (another query took the number it built
 * on) with a short random pause that grows, until `retryMs` have passed; any other error at once.
 */
export async function admitRetryingTakenNumbers<T>(
  admit: () => Promise<T>,
  { retryMs = ADMISSION_RETRY_MS, pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) } = {},
): Promise<T> {
  const deadline = Date.now() + retryMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await admit();
    } catch (error) {
      if (!(error instanceof ChatError && error.reason === "nonce_used") || Date.now() >= deadline) throw error;
      // Up to 2, 4, 8, … 64 ms: tabs racing the key spread out instead of meeting again at once.
      await pause(Math.random() * 2 ** Math.min(attempt + 1, 6));
    }
  }
}

/** Admits the question: free apps store it; paid ones are paid with a voucher the server signs for the key. */
export async function admitApiQuestion(
  db: Db,
  chain: ChainContext,
  key: AuthenticatedKey,
  app: ChatApp,
  question: QuestionRecord,
  now = Math.floor(Date.now() / 1000),
): Promise<{ id: string; maxTotal: bigint; datasetVersions?: Map<string, IndexVersions> } | null> {
  if (app.chargeSet.free) {
    await admitFreeQuestion(db, question);
    return null;
  }
  const maxTotal = BigInt(app.chargeSet.maxTotal);
  // Under the payer's lock the key's own queries take the account's numbers in turn (no other query of
  // this key, or of its owner's other keys, is admitted meanwhile). A browser tab of the same wallet takes
  // no lock (lib/chat/admission.ts) and can take a number first: then the key signs the next one.
  const admitUnderLock = (tx: Prisma.TransactionClient) => admitKeyVoucher(tx, chain, key, app, question, maxTotal, now);
  const admitted = await admitRetryingTakenNumbers(() => withPayerLock(db, chain, key.owner, admitUnderLock));
  return { id: admitted.receiptId, maxTotal: admitted.maxTotal, datasetVersions: admitted.datasetVersions };
}

/** The key's caps, then its voucher for the account's next number, signed and admitted (inside the lock). */
async function admitKeyVoucher(
  tx: Prisma.TransactionClient,
  chain: ChainContext,
  key: AuthenticatedKey,
  app: ChatApp,
  question: QuestionRecord,
  maxTotal: bigint,
  now: number,
) {
  const spend = await sessionSpendWindows(tx, key.sessionHash);
  if (spend.today + maxTotal > key.dailyCap) {
    throw new ApiError("payment_required", "daily_cap_reached", "This query would take the API key past its daily spend cap. It resets at 00:00 UTC, or raise it with a new key.");
  }
  if (spend.month + maxTotal > key.monthlyCap) {
    throw new ApiError("payment_required", "monthly_cap_reached", "This query would take the API key past its monthly spend cap. It resets on the 1st (UTC), or raise it with a new key.");
  }
  if (spend.total + maxTotal > key.totalCap) {
    throw new ApiError("payment_required", "total_cap_reached", "This query would take the API key past its total spend cap. Create a new key to keep going.");
  }
  // The key's voucher is signed inside admission, over the account's next fields as it reads them.
  const privateKey = key.sessionPrivateKey();
  const context = { chainId: chain.chainId, settlement: chain.settlement };
  const keccak = await serverKeccak();
  const signer = {
    sessionHash: key.sessionHash as Hex,
    sign: (fields: { seq: bigint; issuedAt: bigint; cumulativeMax: bigint; charges: Hex }) =>
      signVoucherWith((digest) => signDigest(digest, privateKey), context, { session: key.sessionHash as Hex, ...fields }, keccak),
  };
  return admitVoucher(tx, chain, app.chargeSet, question, signer, { now });
}

export interface ApiAnswerInput {
  db: Db;
  app: ChatApp;
  /** What the caller named the model (echoed in `model`). */
  model: string;
  owner: Address;
  question: string;
  history: PromptTurn[];
  stream: boolean;
  includeUsage: boolean;
  chain: ChainContext;
  key: AuthenticatedKey;
  encryptionKey: string;
  modelFetch?: typeof fetch;
  signal: AbortSignal;
  /** Longest the answer may stream (answerTimeLimitMs). */
  timeLimitMs: number;
}

/** A source as the API shows it (`kip_sources`): the [n] of the answer's citations and where it comes from. */
function apiSource(s: SourceRef) {
  return {
    n: s.n,
    dataset_id: s.datasetId,
    dataset_name: s.datasetName,
    document_id: s.documentId,
    document_name: s.documentName,
    document_title: s.documentTitle ?? "",
    section: s.section ?? [],
    page: s.page ?? null,
    citation: s.citation ?? s.documentName,
    chunk_id: s.chunkId,
    dataset_version: s.datasetVersion ?? null,
    snippet: s.snippet,
    score: s.score,
  };
}

function apiCharge(charge: MessageCharge | undefined) {
  if (!charge) return null;
  return { receipt_id: charge.receiptId, status: charge.status, max_total: charge.maxTotal, total: charge.total, note: charge.note ?? null };
}

type UiChunk = { type: string; [key: string]: unknown };

/** Admits the question and answers it, as a chat.completion or an SSE stream of chat.completion.chunk. */
export async function answerApiRequest(input: ApiAnswerInput): Promise<Response> {
  const conversationId = `api${generateId()}`;
  const question: QuestionRecord = {
    conversationId,
    appId: input.app.id,
    owner: input.owner,
    userMessage: { id: generateId(), text: input.question },
    title: `API: ${input.question.replace(/\s+/g, " ")}`.slice(0, 80),
  };
  const receipt = await admitApiQuestion(input.db, input.chain, input.key, input.app, question);
  const ui = answerStream({
    db: input.db,
    app: input.app,
    conversationId,
    question: input.question,
    history: input.history,
    receipt,
    datasetVersions: receipt?.datasetVersions,
    encryptionKey: input.encryptionKey,
    modelFetch: input.modelFetch,
    signal: input.signal,
    timeLimitMs: input.timeLimitMs,
  }) as ReadableStream<UiChunk>;
  const created = Math.floor(Date.now() / 1000);
  return input.stream ? streamResponse(ui, input, created) : completeResponse(ui, input, created);
}

interface Collected {
  id: string;
  text: string;
  sources: SourceRef[];
  charge?: MessageCharge;
  usage?: { inputTokens: number; outputTokens: number };
  answerStatus?: string;
  error?: string;
}

/** Folds one UI chunk into what is known of the answer; returns the text delta it carries, if any. */
function fold(state: Collected, chunk: UiChunk): string | null {
  switch (chunk.type) {
    case "start":
      state.id = String(chunk.messageId ?? state.id);
      return null;
    case "data-sources":
      state.sources = (chunk.data as { sources: SourceRef[] }).sources;
      return null;
    case "text-delta":
      state.text += chunk.delta as string;
      return chunk.delta as string;
    case "message-metadata": {
      const meta = chunk.messageMetadata as { charge?: MessageCharge; usage?: Collected["usage"]; answerStatus?: string };
      if (meta.charge) state.charge = meta.charge;
      if (meta.usage) state.usage = meta.usage;
      if (meta.answerStatus) state.answerStatus = meta.answerStatus;
      return null;
    }
    case "error":
      state.error = String(chunk.errorText);
      return null;
    default:
      return null;
  }
}

function usageOf(state: Collected) {
  const prompt = state.usage?.inputTokens ?? 0;
  const completion = state.usage?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** "length" for an answer cut at the answer time limit (an API caller cannot stop one), else "stop". */
const finishReason = (state: Collected) => (state.answerStatus === "stopped" ? "length" : "stop");

const modelFailed = (message: string) => new ApiError("upstream_unavailable", "model_unavailable", message);

async function completeResponse(ui: ReadableStream<UiChunk>, input: ApiAnswerInput, created: number): Promise<Response> {
  const state: Collected = { id: generateId(), text: "", sources: [] };
  const reader = ui.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    fold(state, value);
  }
  if (state.error) {
    const { status, body } = toOpenAiError(modelFailed(state.error));
    return Response.json(body, { status, headers: { "Cache-Control": "no-store" } });
  }
  return Response.json(
    {
      id: `chatcmpl-${state.id}`,
      object: "chat.completion",
      created,
      model: input.model,
      choices: [{ index: 0, message: { role: "assistant", content: state.text, refusal: null }, logprobs: null, finish_reason: finishReason(state) }],
      usage: usageOf(state),
      kip_sources: state.sources.map(apiSource),
      kip_charge: apiCharge(state.charge),
    },
    { headers: { "Cache-Control": "no-store" } },
  );
}

function streamResponse(ui: ReadableStream<UiChunk>, input: ApiAnswerInput, created: number): Response {
  const state: Collected = { id: generateId(), text: "", sources: [] };
  const encoder = new TextEncoder();
  const reader = ui.getReader();
  const event = (data: unknown) => encoder.encode(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
    event({ id: `chatcmpl-${state.id}`, object: "chat.completion.chunk", created, model: input.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  let started = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Reads until there is something to send: a pull that enqueues nothing would not be called again.
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const delta = fold(state, value);
        if (value.type === "start" && !started) {
          started = true;
          controller.enqueue(chunk({ role: "assistant", content: "" }, null));
          return;
        }
        if (delta) {
          controller.enqueue(chunk({ content: delta }, null));
          return;
        }
      }
      if (state.error) {
        // OpenAI's clients raise an `error` event as an APIError.
        controller.enqueue(event(toOpenAiError(modelFailed(state.error)).body));
      } else {
        controller.enqueue(chunk({}, finishReason(state), { kip_sources: state.sources.map(apiSource), kip_charge: apiCharge(state.charge) }));
        if (input.includeUsage) {
          controller.enqueue(event({ id: `chatcmpl-${state.id}`, object: "chat.completion.chunk", created, model: input.model, choices: [], usage: usageOf(state) }));
        }
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      }
      controller.close();
    },
    cancel(reason) {
      // The client went away: the answer stream stops (and is charged for what was delivered).
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store, no-transform", Connection: "keep-alive" },
  });
}
