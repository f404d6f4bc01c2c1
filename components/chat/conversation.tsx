"use client";
// A conversation with an app through the AI SDK's useChat: streaming answers with their sources and
// price, stop, regenerate, and errors that say what to do next. For a paid app, each request carries the
// account's next voucher (the next seq, the running maximum grown by this app's charge set, and the hash of
// this query's maxima), signed in the browser by the session key (no wallet pop-up).
// First: zod is configured (no eval probe under the page CSP) before any library builds a schema.
import "@/lib/zod-config";
import { useChat } from "@ai-sdk/react";
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { DefaultChatTransport } from "ai";
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { Hex } from "viem";
import { MAX_QUESTION_CHARS, type ChargeSet, type ChatErrorReason, type ChatUIMessage, type MessageCharge } from "@/lib/chat/types";
import { chatAccountKey, fetchChatAccount } from "@/components/web3/payment-panel";
import { readSession, signWithSessionKey, type Scope } from "@/components/web3/session-key";
import { nextVoucherFields } from "@/lib/protocol";
import { formatAmount, MessageView, textOf, type TokenInfo } from "./message-view";

class ClientPaymentError extends Error {
  constructor(
    readonly reason: ChatErrorReason,
    message: string,
  ) {
    super(JSON.stringify({ error: { code: "client", message, reason } }));
  }
}

/** The server's (or our own) error body, when the error carries one. */
export function parseChatError(error: Error | undefined): { message: string; reason?: ChatErrorReason } | null {
  if (!error) return null;
  try {
    const body = JSON.parse(error.message) as { error?: { message: string; reason?: ChatErrorReason } };
    if (body.error) return body.error;
  } catch {
    // a plain message (a stream error chunk, a network failure)
  }
  if (/Failed to fetch|NetworkError|network/i.test(error.message)) return { message: "The app cannot be reached. Check your connection and try again." };
  return { message: error.message, reason: /could not answer/i.test(error.message) ? "model_unavailable" : undefined };
}

export type PanelAction = "deposit" | "session";

/** The text of the user message an answer at `index` replies to (the nearest one before it). */
function questionBefore(messages: readonly ChatUIMessage[], index: number): string | undefined {
  for (let i = index - 1; i >= 0; i--) {
    if (messages[i].role === "user") return textOf(messages[i]);
  }
  return undefined;
}

/** Builds each request: the new question (or a regeneration) and, for a paid app, its signed receipt. */
function chatTransport(appId: string, scope: Scope, queryClient: QueryClient) {
  return new DefaultChatTransport<ChatUIMessage>({
    api: "/api/chat",
    prepareSendMessagesRequest: async ({ id, messages, trigger, body: extra }) => {
      const last = messages.at(-1);
      const message =
        trigger === "submit-message" && last?.role === "user"
          ? { id: last.id, text: last.parts.map((p) => (p.type === "text" ? p.text : "")).join("") }
          : undefined;
      const body: Record<string, unknown> = { conversationId: id, appId, trigger, message };
      const set = (extra as { chargeSet?: ChargeSet } | undefined)?.chargeSet;
      if (!set) throw new ClientPaymentError("charges_changed", "This app's prices are not known yet. Try again.");
      if (!set.free) {
        const stored = readSession(scope);
        // Without a session the request goes unpaid: the server answers with what is missing first (a
        // deposit when the balance cannot pay for one message, else the session), and stores nothing.
        if (!stored) return { body };
        if (Number(stored.session.expiry) <= Date.now() / 1000 + 180) {
          throw new ClientPaymentError("session_expired", "Your spending session has expired. Authorize a new one.");
        }
        // The account's newest voucher, as the server knows it, is what the next one builds on (another
        // tab or device, with this session or another, may have sent messages since).
        const account = await queryClient.fetchQuery({
          queryKey: chatAccountKey(scope.payer, stored.hash),
          queryFn: () => fetchChatAccount(stored.hash),
          staleTime: 0,
        });
        if (account.session?.revokedAt) throw new ClientPaymentError("session_revoked", "This spending session was revoked. Authorize a new one to keep chatting.");
        const fields = nextVoucherFields(
          { seq: BigInt(account.position.seq), cumulativeMax: BigInt(account.position.cumulativeMax) },
          set.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) })),
        );
        // Dated by the server's clock, read just now: the server refuses vouchers dated more than a minute
        // ahead of it, which a device whose clock runs fast would otherwise sign.
        const voucher = { session: stored.hash as Hex, ...fields, issuedAt: BigInt(account.serverTime ?? Math.floor(Date.now() / 1000)) };
        const signature = await signWithSessionKey(stored, scope, voucher);
        body.payment = {
          sessionHash: stored.hash,
          voucher: { seq: voucher.seq.toString(), issuedAt: voucher.issuedAt.toString(), cumulativeMax: voucher.cumulativeMax.toString(), charges: voucher.charges },
          signature,
        };
      }
      return { body };
    },
  });
}

export function Conversation({
  appId,
  conversationId,
  initialMessages,
  chargeSet,
  scope,
  token,
  onNeed,
  onActivity,
  onChargesChanged,
  modelDown = false,
}: {
  appId: string;
  conversationId: string;
  initialMessages: ChatUIMessage[];
  chargeSet: ChargeSet;
  scope: Scope;
  token: TokenInfo;
  onNeed: (action: PanelAction) => void;
  onActivity: () => void;
  onChargesChanged: () => Promise<ChargeSet | null>;
  /** A recent probe found the app's model down: sending is off (the server would refuse the question). */
  modelDown?: boolean;
}) {
  const queryClient = useQueryClient();
  const transport = useMemo(() => chatTransport(appId, scope, queryClient), [appId, scope, queryClient]);
  const paying = { body: { chargeSet } };

  const { messages, sendMessage, regenerate, stop, status, error, clearError } = useChat<ChatUIMessage>({
    id: conversationId,
    messages: initialMessages,
    transport,
    throttle: 30,
    onFinish: () => {
      onActivity();
      void queryClient.invalidateQueries({ queryKey: ["chat", "account", scope.payer] });
    },
    onError: () => {
      onActivity();
      void queryClient.invalidateQueries({ queryKey: ["chat", "account", scope.payer] });
      // A refusal or a failed answer may mean the model is down: re-read its status now.
      void queryClient.invalidateQueries({ queryKey: ["model-health"] });
    },
  });
  const [input, setInput] = useState("");
  // Answers this page stopped (the server learns of the stop when the stream closes, and charges what was
  // delivered; the charge below the answer is then read back like any other).
  const [stoppedIds, setStoppedIds] = useState<ReadonlySet<string>>(new Set());
  const busy = status === "submitted" || status === "streaming";
  const problem = parseChatError(error);

  // Charges of paid answers move from pending to settled (or failed) after this page loaded them.
  const [charged, setCharged] = useState<Record<string, MessageCharge>>({});
  const waiting = messages
    .map((m) => (m.role === "assistant" ? (charged[m.metadata?.charge?.receiptId ?? ""] ?? m.metadata?.charge) : undefined))
    .filter((c): c is MessageCharge => Boolean(c?.receiptId) && ["pending", "sending", "answering"].includes(c!.status))
    .map((c) => c.receiptId!);
  const waitingKey = waiting.join(",");
  useEffect(() => {
    if (!waitingKey || busy) return;
    const timer = setInterval(async () => {
      const response = await fetch(`/api/chat/receipts?ids=${waitingKey}`, { cache: "no-store" }).catch(() => null);
      if (!response?.ok) return;
      const { receipts } = (await response.json()) as { receipts: Record<string, MessageCharge> };
      setCharged((current) => ({ ...current, ...receipts }));
      if (Object.values(receipts).some((r) => r.status === "settled" || r.status === "failed")) {
        void queryClient.invalidateQueries({ queryKey: ["chat", "account", scope.payer] });
      }
    }, 2000);
    return () => clearInterval(timer);
  }, [waitingKey, busy, queryClient, scope.payer]);

  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => {
    bottom.current?.scrollIntoView({ block: "end" });
  }, [messages]);

  function submit(event?: FormEvent) {
    event?.preventDefault();
    const text = input.trim();
    if (!text || busy || modelDown || text.length > MAX_QUESTION_CHARS) return;
    clearError();
    void sendMessage({ text }, paying);
    setInput("");
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
  }

  async function retry() {
    clearError();
    const fresh = problem?.reason === "charges_changed" ? await onChargesChanged() : null;
    const options = fresh ? { body: { chargeSet: fresh } } : paying;
    const last = messages.at(-1);
    if (last?.role === "user" && problem?.reason && problem.reason !== "model_unavailable") {
      // The question never reached the model: send it again as it was.
      const text = last.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
      void sendMessage({ text, messageId: last.id }, options);
    } else {
      void regenerate(options);
    }
  }

  const lastAssistant = [...messages].reverse().find((m) => m.role === "assistant");
  return (
    <div className="flex min-h-0 min-w-0 flex-1 flex-col">
      <div className="min-w-0 flex-1 space-y-6 overflow-y-auto px-1 py-4" aria-live="polite" data-testid="messages">
        {messages.length === 0 ? (
          <div className="mx-auto max-w-md py-16 text-center text-sm text-muted">
            <p className="text-base font-medium text-ink">Ask anything about this app&apos;s sources</p>
            <p className="mt-2">Answers quote the passages they use and list them underneath.</p>
          </div>
        ) : null}
        {messages.map((m, i) => (
          <MessageView
            key={m.id}
            message={m}
            token={token}
            charge={m.role === "assistant" ? (charged[m.metadata?.charge?.receiptId ?? ""] ?? m.metadata?.charge) : undefined}
            streaming={busy && m.id === lastAssistant?.id && m === messages.at(-1)}
            stopped={stoppedIds.has(m.id)}
            question={m.role === "assistant" ? questionBefore(messages, i) : undefined}
            check={{ chainId: scope.chainId, payer: scope.payer }}
          />
        ))}
        {status === "submitted" && messages.at(-1)?.role === "user" ? <p className="text-sm text-muted">Checking your receipt and searching the sources…</p> : null}
        <div ref={bottom} />
      </div>

      {problem ? (
        <div role="alert" className="mb-3 flex flex-wrap items-center gap-3 rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800" data-testid="chat-error" data-reason={problem.reason}>
          <span className="min-w-0 flex-1 wrap-anywhere">{problem.message}</span>
          {problem.reason === "balance_too_low" ? (
            <button type="button" className="rounded-md bg-red-700 px-3 py-1 text-white" onClick={() => onNeed("deposit")}>
              Deposit
            </button>
          ) : null}
          {problem.reason && ["session_required", "session_expired", "session_unknown", "over_cap"].includes(problem.reason) ? (
            <button type="button" className="rounded-md bg-red-700 px-3 py-1 text-white" onClick={() => onNeed("session")}>
              Authorize spending
            </button>
          ) : null}
          {problem.reason !== "sign_in" ? (
            <button type="button" className="rounded-md border border-red-300 px-3 py-1" onClick={() => void retry()}>
              Try again
            </button>
          ) : null}
        </div>
      ) : null}

      <form onSubmit={submit} className="min-w-0 rounded-xl border border-line bg-white p-2 shadow-sm focus-within:border-brand-500">
        <label htmlFor="chat-input" className="sr-only">
          Your question
        </label>
        <textarea
          id="chat-input"
          rows={2}
          value={input}
          aria-describedby="chat-input-count"
          aria-invalid={input.trim().length > MAX_QUESTION_CHARS || undefined}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder="Ask a question…"
          className="block w-full resize-none border-0 bg-transparent px-2 py-1 text-sm outline-none focus-visible:outline-none"
        />
        {input.length > MAX_QUESTION_CHARS * 0.75 ? (
          <p
            id="chat-input-count"
            aria-live="polite"
            data-testid="question-length"
            className={`px-2 text-xs tabular-nums ${input.trim().length > MAX_QUESTION_CHARS ? "font-medium text-red-700" : "text-muted"}`}
          >
            {input.trim().length > MAX_QUESTION_CHARS
              ? `Too long: ${input.trim().length.toLocaleString("en-US")} characters; a question may have at most ${MAX_QUESTION_CHARS.toLocaleString("en-US")}.`
              : `${input.trim().length.toLocaleString("en-US")} of ${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters`}
          </p>
        ) : null}
        <div className="flex flex-wrap items-center justify-between gap-2 px-2 pt-1">
          <span className="min-w-0 text-xs text-muted" data-testid="message-price">
            {chargeSet.free ? "Free app" : `Up to ${formatAmount(chargeSet.maxTotal, token)} per message · charged for what it uses`}
          </span>
          <div className="ml-auto flex shrink-0 gap-2">
            {busy ? (
              <button
                type="button"
                onClick={() => {
                  const last = messages.at(-1);
                  if (last?.role === "assistant") setStoppedIds((ids) => new Set(ids).add(last.id));
                  void stop();
                }}
                className="rounded-md border border-line px-3 py-1.5 text-sm hover:bg-slate-50"
              >
                Stop
              </button>
            ) : lastAssistant ? (
              <button type="button" onClick={() => (clearError(), void regenerate(paying))} className="rounded-md border border-line px-3 py-1.5 text-sm hover:bg-slate-50">
                Regenerate
              </button>
            ) : null}
            <button type="submit" disabled={busy || modelDown || !input.trim() || input.trim().length > MAX_QUESTION_CHARS} title={modelDown ? "The app's model is down" : undefined} className="rounded-md bg-brand-700 px-4 py-1.5 text-sm font-medium text-white hover:bg-brand-800 disabled:opacity-50">
              Send
            </button>
          </div>
        </div>
      </form>
    </div>
  );
}
