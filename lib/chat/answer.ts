// Answering an admitted question as a UI message stream: retrieve passages, build the prompt, stream the
// model's answer, then fix the receipt's charges (app and model always; a dataset only if its passages
// were used) — or void the receipt when the model fails or the user goes away, so nothing is charged.
import { generateId, streamText, type ModelMessage, type UIMessageChunk } from "ai";
import type { Db } from "@/lib/db-client";
import { modelFailureSummary } from "@/lib/ai/failures";
import { resolveModel } from "@/lib/ai/providers";
import { buildContextMessage, buildInstructions, citedNumbers, trimHistory, type PromptTurn } from "@/lib/ai/prompt";
import { retrieve } from "@/lib/rag/hybrid";
import type { ChatApp } from "./charges";
import { shortError } from "./charges";
import { chargeOf } from "./conversations";
import { documentNames, storeAnswer, voidReceipt } from "./store";
import type { ChatMessageMetadata, MessageCharge, SourceRef } from "./types";

export const SNIPPET_CHARS = 420;

export interface AnswerInput {
  db: Db;
  app: ChatApp;
  conversationId: string;
  question: string;
  history: PromptTurn[];
  receipt: { id: string; maxTotal: bigint } | null;
  encryptionKey: string;
  /** How to reach the model's endpoint (the server's outbound-policy fetch). */
  modelFetch?: typeof fetch;
  /** The request's signal: aborted when the client goes away. */
  signal: AbortSignal;
  /** Called once the answer is stored or voided (tests, logs). */
  onSettled?: (outcome: "complete" | "stopped" | "failed") => void;
}

type Chunk = UIMessageChunk<ChatMessageMetadata, { sources: { sources: SourceRef[] } }>;

/** Amounts per charge-set slot: app and model at their price, a dataset at its price only if used. */
export function chargeAmounts(app: ChatApp, usedDatasets: Set<string>): bigint[] {
  return app.chargeSet.slots.map((slot) =>
    slot.role === "dataset" && !usedDatasets.has(slot.listingId) ? 0n : BigInt(slot.price),
  );
}

/** Datasets whose passages the answer cites; if it cites none, every dataset that supplied a passage. */
export function usedDatasets(answer: string, sources: SourceRef[]): Set<string> {
  const cited = citedNumbers(answer);
  const citedSources = sources.filter((s) => cited.has(s.n));
  return new Set((citedSources.length ? citedSources : sources).map((s) => s.datasetId));
}

async function loadSources(db: Db, app: ChatApp, chunks: Awaited<ReturnType<typeof retrieve>>["chunks"]): Promise<SourceRef[]> {
  const documents = await documentNames(db, [...new Set(chunks.map((c) => c.documentId))]);
  const datasetNames = new Map(app.datasets.map((d) => [d.id, d.name]));
  return chunks.map((c, i) => ({
    n: i + 1,
    datasetId: c.datasetId,
    datasetName: datasetNames.get(c.datasetId) ?? c.datasetId,
    documentId: c.documentId,
    documentName: documents.get(c.documentId) ?? "document",
    chunkId: c.chunkId,
    snippet: c.text.length > SNIPPET_CHARS ? `${c.text.slice(0, SNIPPET_CHARS).trimEnd()}…` : c.text,
    score: Math.round(c.score * 10_000) / 10_000,
  }));
}

async function completeAnswer(input: AnswerInput, answerId: string, text: string, sources: SourceRef[]): Promise<MessageCharge> {
  const { db, receipt } = input;
  let charge: MessageCharge = chargeOf(null);
  let charges: { amountsJson: string; total: string } | null = null;
  if (receipt) {
    const amounts = chargeAmounts(input.app, usedDatasets(text, sources));
    const total = amounts.reduce((a, b) => a + b, 0n).toString();
    charges = { amountsJson: JSON.stringify(amounts.map(String)), total };
    charge = chargeOf({ id: receipt.id, status: "pending", maxTotal: receipt.maxTotal.toString(), total, txHash: null, failureReason: null });
  }
  const answer = { id: answerId, conversationId: input.conversationId, text, status: "complete" as const, sourcesJson: JSON.stringify(sources), receiptId: receipt?.id ?? null };
  await storeAnswer(db, answer, charges);
  return charge;
}

async function voidAnswer(input: AnswerInput, reason: string, stopped: { answerId: string; text: string; sources: SourceRef[] } | null) {
  const { db, receipt } = input;
  const partial =
    stopped && stopped.text.trim()
      ? { id: stopped.answerId, conversationId: input.conversationId, text: stopped.text, status: "stopped" as const, sourcesJson: JSON.stringify(stopped.sources), receiptId: receipt?.id ?? null }
      : null;
  await voidReceipt(db, receipt?.id ?? null, reason, partial);
}

/** The answer as a stream of UI message chunks (what useChat reads). */
export function answerStream(input: AnswerInput): ReadableStream<Chunk> {
  const abort = new AbortController();
  const onRequestAbort = () => abort.abort(new Error("the client closed the connection"));
  if (input.signal.aborted) onRequestAbort();
  else input.signal.addEventListener("abort", onRequestAbort, { once: true });
  let closed = false;

  return new ReadableStream<Chunk>({
    start(controller) {
      const enqueue = (chunk: Chunk) => {
        if (closed) return;
        try {
          controller.enqueue(chunk);
        } catch {
          closed = true;
        }
      };
      const close = () => {
        if (closed) return;
        closed = true;
        try {
          controller.close();
        } catch {
          // already cancelled by the consumer
        }
      };
      void run(input, abort, enqueue).finally(() => {
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

async function run(input: AnswerInput, abort: AbortController, enqueue: (chunk: Chunk) => void): Promise<void> {
  const answerId = generateId();
  const pendingCharge: MessageCharge = input.receipt
    ? { receiptId: input.receipt.id, status: "answering", maxTotal: input.receipt.maxTotal.toString(), total: null, txHash: null, failureReason: null }
    : chargeOf(null);
  let text = "";
  let sources: SourceRef[] = [];
  let textStarted = false;
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
      abortSignal: abort.signal,
    });
    sources = await loadSources(input.db, input.app, retrieval.chunks);
    enqueue({ type: "data-sources", id: "sources", data: { sources } });
    enqueue({ type: "message-metadata", messageMetadata: { retrieval: retrieval.mode } });

    const messages: ModelMessage[] = [
      ...trimHistory(input.history).map((turn): ModelMessage => ({ role: turn.role, content: turn.text })),
      {
        role: "user",
        content: buildContextMessage(
          input.question,
          sources.map((s, i) => ({ n: s.n, dataset: s.datasetName, document: s.documentName, text: retrieval.chunks[i].text })),
        ),
      },
    ];
    const result = streamText({
      model: resolved.model,
      instructions: buildInstructions(input.app.systemPrompt),
      messages,
      abortSignal: abort.signal,
      maxRetries: 0,
      // Failures are handled below (the receipt is voided); no second log line per failure.
      onError: () => undefined,
    });
    let finishReason: string | undefined;
    for await (const part of result.stream) {
      if (part.type === "text-delta") {
        if (!textStarted) {
          textStarted = true;
          enqueue({ type: "text-start", id: "answer" });
        }
        text += part.text;
        enqueue({ type: "text-delta", id: "answer", delta: part.text });
      } else if (part.type === "error") {
        throw part.error;
      } else if (part.type === "abort") {
        throw abort.signal.reason ?? new Error("aborted");
      } else if (part.type === "finish") {
        finishReason = part.finishReason;
      }
    }
    if (abort.signal.aborted) throw abort.signal.reason;
    if (finishReason === "error" || finishReason === "interrupted") throw new Error(`the model stopped with "${finishReason}"`);
    if (!text.trim()) throw new Error("the model returned an empty answer");
    if (textStarted) enqueue({ type: "text-end", id: "answer" });
    const charge = await completeAnswer(input, answerId, text, sources);
    enqueue({ type: "message-metadata", messageMetadata: { charge, answerStatus: "complete" } });
    enqueue({ type: "finish", finishReason: "stop" });
    input.onSettled?.("complete");
  } catch (error) {
    const stopped = abort.signal.aborted;
    // The user sees a summary; the endpoint's own words go to the log only.
    const summary = modelFailureSummary(error);
    const reason = stopped ? "stopped before the answer was complete" : `the model failed: ${summary}`;
    if (!stopped) console.error(`chat answer failed (app ${input.app.id}): ${shortError(error)}`);
    try {
      await voidAnswer(input, reason, stopped ? { answerId, text, sources } : null);
    } catch (storeError) {
      console.error("could not void the receipt:", storeError);
    }
    if (textStarted) enqueue({ type: "text-end", id: "answer" });
    const voided: MessageCharge = { ...pendingCharge, status: input.receipt ? "void" : "free", total: "0" };
    enqueue({ type: "message-metadata", messageMetadata: { charge: voided, answerStatus: stopped ? "stopped" : undefined } });
    if (!stopped) enqueue({ type: "error", errorText: `The model could not answer (${summary}). You were not charged; try again.` });
    input.onSettled?.(stopped ? "stopped" : "failed");
  }
}
