// Answering an admitted question as a UI message stream: retrieve passages (only those relevant enough go
// into the context), build the prompt, stream the model's answer, then fix the receipt's charges from what
// was really used (lib/chat/metering.ts): the app, each dataset whose passages were in the context, and
// the model for its tokens. A stopped answer is charged for what was delivered; an answer that fails, or
// is stopped before its first token, voids the receipt so nothing is charged. What the answer cites
// changes nobody's pay.
import { generateId, type UIMessageChunk } from "ai";
import { SSE_DONE, sseEvent, uiMessageSseResponse } from "@/lib/ai/sse";
import type { Db } from "@/lib/db-client";
import { modelFailureSummary } from "@/lib/ai/failures";
import { isDatabaseUnavailable } from "@/lib/errors";
import { resolveModel } from "@/lib/ai/providers";
import { serverKeccak } from "./keccak";
import { streamAnswer, type AnswerTurn } from "@/lib/ai/stream";
import { buildContextMessage, buildInstructions, trimHistory, type PromptTurn } from "@/lib/ai/prompt";
import { datasetVersionsOf, recordHash } from "@/lib/protocol";
import { passageCitation } from "@/lib/rag/citation";
import { retrieve } from "@/lib/rag/hybrid";
import type { IndexVersions } from "@/lib/rag/search";
import type { ChatApp } from "./charges";
import { shortError } from "./charges";
import { chargeOf } from "./conversations";
import { boundedUsage, estimateTokens, limitWords, queryCharge, TOKEN_BUDGET, withinBudget, type AnswerOutcome } from "./metering";
import { storeAnswer, voidReceipt, type FixedCharges } from "./store";
import type { ChatMessageMetadata, MessageCharge, SourceRef } from "./types";

export const SNIPPET_CHARS = 420;

/** The answer ran past its time limit: it is cut there, like a stop. */
class AnswerTimeLimit extends Error {
  constructor(readonly limitMs: number) {
    super(`the answer ran past its ${limitWords(limitMs)} limit`);
  }
}

/** The answer was written but could not be stored with its charge (the database failed). */
class AnswerNotSaved extends Error {
  constructor(cause: unknown) {
    super("the answer could not be saved", { cause });
  }
}

export interface AnswerInput {
  db: Db;
  app: ChatApp;
  conversationId: string;
  question: string;
  history: PromptTurn[];
  receipt: { id: string; maxTotal: bigint } | null;
  /** The app's datasets' versions when admission has just read them (else retrieval reads them). */
  datasetVersions?: ReadonlyMap<string, IndexVersions>;
  encryptionKey: string;
  /** How to reach the model's endpoint (the server's outbound-policy fetch). */
  modelFetch?: typeof fetch;
  /** The request's signal: aborted when the client goes away. */
  signal: AbortSignal;
  /** Longest the answer may stream (answerTimeLimitMs): then it is cut, and charged for what was delivered. */
  timeLimitMs: number;
  /** Called once the answer is stored or voided (tests, logs). */
  onSettled?: (outcome: "complete" | "stopped" | "failed") => void;
}

type Chunk = UIMessageChunk<ChatMessageMetadata, { sources: { sources: SourceRef[] } }>;

/** Datasets with at least one passage in the model's context: the ones paid for this query. */
export function contextDatasets(sources: readonly SourceRef[]): Set<string> {
  return new Set(sources.map((s) => s.datasetId));
}

function sourcesOf(app: ChatApp, chunks: Awaited<ReturnType<typeof retrieve>>["chunks"]): SourceRef[] {
  const datasetNames = new Map(app.datasets.map((d) => [d.id, d.name]));
  return chunks.map((c, i) => ({
    n: i + 1,
    datasetId: c.datasetId,
    datasetName: datasetNames.get(c.datasetId) ?? c.datasetId,
    documentId: c.documentId,
    documentName: c.documentName,
    citation: passageCitation(c),
    documentTitle: c.documentTitle,
    section: c.section,
    page: c.page,
    chunkId: c.chunkId,
    datasetVersion: c.datasetVersion,
    snippet: c.text.length > SNIPPET_CHARS ? `${c.text.slice(0, SNIPPET_CHARS).trimEnd()}…` : c.text,
    score: Math.round(c.score * 10_000) / 10_000,
  }));
}

/** Stores the answer (complete, or stopped after its first token) with the receipt's charges fixed. */
async function keepAnswer(input: AnswerInput, answerId: string, text: string, sources: SourceRef[], outcome: AnswerOutcome): Promise<MessageCharge> {
  const { db, receipt } = input;
  let charge: MessageCharge = chargeOf(null);
  let charges: FixedCharges | null = null;
  if (receipt) {
    const fixed = queryCharge(input.app.chargeSet.slots, outcome);
    const usage = withinBudget(outcome.usage);
    const total = fixed.total.toString();
    // The query's record: every slot it charged (the app, the model, the datasets in context) and its
    // amount, with the hash that binds it to what the user was shown.
    const record = input.app.chargeSet.slots
      .map((slot, i) => [slot, fixed.amounts[i]] as const)
      .filter(([slot]) => slot.role !== "dataset" || outcome.contextDatasets.has(slot.listingId))
      .map(([slot, amount]) => [slot.slot, amount.toString()]);
    // The dataset versions the passages came from are named by the record (bound into its hash) and kept on the receipt.
    const datasetVersions = datasetVersionsOf(sources);
    const hash = recordHash({ id: answerId, question: input.question, answer: text, passages: sources.map((s) => s.chunkId), datasetVersions }, await serverKeccak());
    charges = {
      amountsJson: JSON.stringify(record),
      total,
      ...usage,
      note: fixed.note,
      recordHash: hash,
      datasetVersionsJson: JSON.stringify(datasetVersions.map((v) => [v.dataset, v.version])),
    };
    charge = chargeOf({ id: receipt.id, status: "pending", maxTotal: receipt.maxTotal.toString(), total, txHash: null, failureReason: null, chargeNote: fixed.note });
  }
  const status = outcome.kind === "stopped" ? ("stopped" as const) : ("complete" as const);
  const answer = { id: answerId, conversationId: input.conversationId, text, status, sourcesJson: JSON.stringify(sources), receiptId: receipt?.id ?? null };
  await storeAnswer(db, answer, charges);
  return charge;
}

async function voidAnswer(input: AnswerInput, reason: string) {
  await voidReceipt(input.db, input.receipt?.id ?? null, reason, null);
}

/** The answer as a stream of UI message chunks (what useChat reads, once sent as SSE; the API reads them as they are). */
export function answerStream(input: AnswerInput): ReadableStream<Chunk> {
  return answerReadable(input, (chunks) => chunks);
}

/**
 * What the chat route answers with: the answer's UI message chunks as server-sent events. The chunks made
 * together (the sources, the first word and its markers; the end of the answer, its charge and the
 * stream's end) go out as one piece: one write to the connection instead of one each.
 */
export function answerResponse(input: AnswerInput, headers: Record<string, string>): Response {
  const encoder = new TextEncoder();
  return uiMessageSseResponse(
    answerReadable(input, (chunks, last) => [encoder.encode(chunks.map(sseEvent).join("") + (last ? SSE_DONE : ""))]),
    headers,
  );
}

/**
 * The answer's stream of `encode`d chunks. Chunks made one after another, with no wait between them,
 * are handed to `encode` together (in a microtask after the last of them); `last` is set on the final
 * call, when the answer is over (it may have no chunks).
 */
function answerReadable<T>(input: AnswerInput, encode: (chunks: Chunk[], last: boolean) => T[]): ReadableStream<T> {
  const abort = new AbortController();
  const onRequestAbort = () => abort.abort(new Error("the client closed the connection"));
  if (input.signal.aborted) onRequestAbort();
  else input.signal.addEventListener("abort", onRequestAbort, { once: true });
  // An answer that streams on (a model that never stops, or one slower than the limit) is cut at the
  // limit, well before the settlement worker voids a query still answering: it is kept and charged for
  // what was delivered, never left to be voided after the user read it.
  const timer = setTimeout(() => abort.abort(new AnswerTimeLimit(input.timeLimitMs)), input.timeLimitMs);
  let closed = false;
  let pending: Chunk[] = [];
  let scheduled = false;

  return new ReadableStream<T>({
    start(controller) {
      const flush = (last: boolean) => {
        scheduled = false;
        if (closed || (pending.length === 0 && !last)) return;
        const chunks = pending;
        pending = [];
        try {
          for (const value of encode(chunks, last)) controller.enqueue(value);
        } catch {
          closed = true;
        }
      };
      const enqueue = (chunk: Chunk) => {
        if (closed) return;
        pending.push(chunk);
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(() => flush(false));
        }
      };
      const close = () => {
        flush(true);
        if (closed) return;
        closed = true;
        try {
          controller.close();
        } catch {
          // already cancelled by the consumer
        }
      };
      void run(input, abort, enqueue).finally(() => {
        clearTimeout(timer);
        input.signal.removeEventListener("abort", onRequestAbort);
        close();
      });
    },
    cancel() {
      // The response body was cancelled: the browser tab closed or the user pressed stop.
      closed = true;
      abort.abort(new Error("the client closed the connection"));
    },
  });
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8");

async function run(input: AnswerInput, abort: AbortController, enqueue: (chunk: Chunk) => void): Promise<void> {
  const answerId = generateId();
  const pendingCharge: MessageCharge = input.receipt
    ? { receiptId: input.receipt.id, status: "answering", maxTotal: input.receipt.maxTotal.toString(), total: null, txHash: null, failureReason: null }
    : chargeOf(null);
  let text = "";
  let sources: SourceRef[] = [];
  let textStarted = false;
  // Text deltas streamed (about one token each) and the prompt's characters: the counts a charge falls
  // back to when the provider reports no usage (always, for a stopped answer).
  let deltas = 0;
  let promptChars = 0;
  // What a usage report is held to (boundedUsage): the bytes sent and the messages they were in, the
  // answer's bytes and the reasoning's characters streamed back.
  let promptBytes = 0;
  let promptMessages = 0;
  let answerBytes = 0;
  let reasoningChars = 0;
  try {
    const resolved = resolveModel(input.app.model, input.encryptionKey, { fetch: input.modelFetch });
    enqueue({
      type: "start",
      messageId: answerId,
      messageMetadata: { createdAt: Date.now(), charge: pendingCharge, model: input.app.model.name },
    });
    const retrieval = await retrieve(input.db, input.app.datasets.map((d) => d.id), input.question, input.app.topK, {
      embeddings: resolved.embeddings,
      embeddingsKey: input.app.model.listingId,
      embeddingsHeaders: resolved.headers,
      abortSignal: abort.signal,
      versions: input.datasetVersions,
    });
    sources = sourcesOf(input.app, retrieval.chunks);
    // The sources (with their passages' text) go out with the answer's first word, never before it: an
    // answer stopped before its first word costs nothing, so it must not show the paid passages either.
    const sendSources = () => {
      enqueue({ type: "data-sources", id: "sources", data: { sources } });
      enqueue({ type: "message-metadata", messageMetadata: { retrieval: retrieval.mode } });
    };

    const messages: AnswerTurn[] = [
      ...trimHistory(input.history).map((turn): AnswerTurn => ({ role: turn.role, content: turn.text })),
      {
        role: "user",
        content: buildContextMessage(
          input.question,
          sources.map((s, i) => ({ n: s.n, dataset: s.datasetName, document: s.citation ?? s.documentName, text: retrieval.chunks[i].text })),
        ),
      },
    ];
    const instructions = buildInstructions(input.app.systemPrompt);
    promptChars = instructions.length + messages.reduce((n, m) => n + m.content.length, 0);
    promptBytes = utf8Bytes(instructions) + messages.reduce((n, m) => n + utf8Bytes(m.content), 0);
    promptMessages = messages.length + 1;
    let finishReason: string | undefined;
    let reported: { inputTokens?: number; outputTokens?: number } | undefined;
    for await (const part of streamAnswer({ model: resolved.model, instructions, messages, maxOutputTokens: TOKEN_BUDGET.output, abortSignal: abort.signal, headers: resolved.headers })) {
      if (part.type === "text-delta") {
        if (!textStarted) {
          textStarted = true;
          sendSources();
          enqueue({ type: "text-start", id: "answer" });
        }
        deltas++;
        answerBytes += utf8Bytes(part.text);
        text += part.text;
        enqueue({ type: "text-delta", id: "answer", delta: part.text });
      } else if (part.type === "reasoning-delta") {
        reasoningChars += part.text.length;
      } else {
        finishReason = part.finishReason;
        reported = part.usage;
      }
    }
    if (abort.signal.aborted) throw abort.signal.reason;
    if (finishReason === "error" || finishReason === "interrupted") throw new Error(`the model stopped with "${finishReason}"`);
    if (!text.trim()) throw new Error("the model returned an empty answer");
    if (textStarted) enqueue({ type: "text-end", id: "answer" });
    const usage = boundedUsage(
      reported,
      { inputTokens: estimateTokens(promptChars), outputTokens: deltas },
      { inputBytes: promptBytes, messages: promptMessages, answerBytes, reasoningChars },
    );
    let charge: MessageCharge;
    try {
      charge = await keepAnswer(input, answerId, text, sources, { kind: "complete", usage, contextDatasets: contextDatasets(sources) });
    } catch (error) {
      throw new AnswerNotSaved(error);
    }
    enqueue({ type: "message-metadata", messageMetadata: { charge, answerStatus: "complete", usage: withinBudget(usage) } });
    enqueue({ type: "finish", finishReason: "stop" });
    input.onSettled?.("complete");
  } catch (error) {
    const cut = abort.signal.reason instanceof AnswerTimeLimit ? abort.signal.reason : null;
    const stopped = abort.signal.aborted && !cut;
    if (abort.signal.aborted && deltas > 0) {
      // Stopped (or cut at the time limit) after the first token: what was delivered is kept and charged
      // (the model for the tokens streamed, its input estimated from the prompt's length).
      try {
        const usage = { inputTokens: estimateTokens(promptChars), outputTokens: deltas };
        const outcome = { kind: "stopped", usage, contextDatasets: contextDatasets(sources), ...(cut ? { cutAt: cut.limitMs } : {}) } as const;
        const charge = await keepAnswer(input, answerId, text, sources, outcome);
        if (textStarted) enqueue({ type: "text-end", id: "answer" });
        enqueue({ type: "message-metadata", messageMetadata: { charge, answerStatus: "stopped", usage: withinBudget(usage) } });
        if (cut) enqueue({ type: "finish", finishReason: "length" });
      } catch (storeError) {
        console.error("could not store the stopped answer:", storeError);
      }
      input.onSettled?.("stopped");
      return;
    }
    // The user sees a summary; the endpoint's own words go to the log only.
    const notSaved = error instanceof AnswerNotSaved;
    const summary = notSaved ? "" : modelFailureSummary(error);
    const reason = stopped
      ? "stopped before the first word of the answer"
      : cut
        ? `the model did not answer within the ${limitWords(cut.limitMs)} limit`
        : notSaved
          ? "the answer could not be saved"
          : `the model failed: ${summary}`;
    if (!stopped) console.error(`chat answer failed (app ${input.app.id}): ${shortError(notSaved ? error.cause : error)}`);
    try {
      await voidAnswer(input, reason);
    } catch (storeError) {
      console.error("could not void the receipt:", storeError);
    }
    if (textStarted) enqueue({ type: "text-end", id: "answer" });
    const voided: MessageCharge = { ...pendingCharge, status: input.receipt ? "void" : "free", total: "0", note: input.receipt ? `Not charged: ${reason}.` : null };
    enqueue({ type: "message-metadata", messageMetadata: { charge: voided, answerStatus: stopped ? "stopped" : undefined } });
    if (notSaved) {
      // The receipt stays "answering" if the database is gone: the settlement worker voids it once the
      // database is back, so this answer is never charged.
      const why = isDatabaseUnavailable(error.cause) ? "the marketplace's database cannot be reached" : "storing it failed";
      enqueue({ type: "error", errorText: `Your answer could not be saved (${why}). You will not be charged for it; try again in a moment.` });
    } else if (cut) enqueue({ type: "error", errorText: `The model did not start answering within the ${limitWords(cut.limitMs)} limit. You were not charged; try again.` });
    else if (!stopped) enqueue({ type: "error", errorText: `The model could not answer (${summary}). You were not charged; try again.` });
    input.onSettled?.(stopped ? "stopped" : "failed");
  }
}
