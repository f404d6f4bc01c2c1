"use client";
// One message: the text with clickable citation markers, the sources it was given, and what it cost.
import { Fragment } from "react";
import type { Address, Hex } from "viem";
import type { ChatUIMessage, MessageCharge, SourceRef } from "@/lib/chat/types";
import { datasetVersionsOf } from "@/lib/protocol/records";
import { formatAmount, type TokenInfo } from "./format";
import { RecordCheck } from "./record-check";

export { formatAmount, type TokenInfo } from "./format";

export function textOf(message: ChatUIMessage): string {
  return message.parts.map((p) => (p.type === "text" ? p.text : "")).join("");
}

export function sourcesOf(message: ChatUIMessage): SourceRef[] {
  for (const part of message.parts) if (part.type === "data-sources") return part.data.sources;
  return [];
}

/** Text with [n] markers turned into links to the numbered source below. */
function CitedText({ text, messageId, sources }: { text: string; messageId: string; sources: SourceRef[] }) {
  const known = new Set(sources.map((s) => s.n));
  const pieces = text.split(/(\[\d+(?:\s*,\s*\d+)*\])/g);
  return (
    <p className="whitespace-pre-wrap leading-7 wrap-anywhere">
      {pieces.map((piece, i) => {
        const match = /^\[(\d+(?:\s*,\s*\d+)*)\]$/.exec(piece);
        if (!match) return <Fragment key={i}>{piece}</Fragment>;
        return (
          <Fragment key={i}>
            {match[1].split(",").map((raw) => {
              const n = Number(raw.trim());
              return known.has(n) ? (
                <a
                  key={n}
                  href={`#src-${messageId}-${n}`}
                  className="mx-0.5 inline-flex size-5 items-center justify-center rounded bg-brand-100 align-super text-[10px] font-semibold text-brand-800 no-underline hover:bg-brand-200"
                  aria-label={`Source ${n}`}
                  data-testid="citation"
                >
                  {n}
                </a>
              ) : (
                <Fragment key={n}>[{n}]</Fragment>
              );
            })}
          </Fragment>
        );
      })}
    </p>
  );
}

const STATUS_TEXT: Record<MessageCharge["status"], string> = {
  free: "Free",
  answering: "Answering…",
  pending: "Pending settlement",
  sending: "Settling…",
  settled: "Settled",
  failed: "Settlement failed",
  void: "Not charged",
};

export function ChargeLine({ charge, token, explorer }: { charge: MessageCharge; token: TokenInfo; explorer?: (hash: string) => string | null }) {
  if (charge.status === "free") return <span className="text-xs text-muted">Free</span>;
  const amount = charge.status === "void" ? "0" : (charge.total ?? charge.maxTotal);
  const tone =
    charge.status === "settled" ? "bg-emerald-50 text-emerald-800 border-emerald-200" : charge.status === "failed" ? "bg-red-50 text-red-800 border-red-200" : charge.status === "void" ? "bg-slate-50 text-slate-700 border-slate-200" : "bg-amber-50 text-amber-900 border-amber-200";
  // The explorer's page when one is configured, else this app's own transaction page.
  const external = charge.txHash ? (explorer?.(charge.txHash) ?? null) : null;
  return (
    <span className="inline-flex flex-wrap items-center gap-2 text-xs" data-testid="message-charge" data-status={charge.status}>
      <span className="tabular-nums text-muted">{charge.status === "answering" ? `up to ${formatAmount(charge.maxTotal, token)}` : formatAmount(amount, token)}</span>
      <span className={`rounded-full border px-2 py-0.5 font-medium ${tone}`}>{STATUS_TEXT[charge.status]}</span>
      {charge.txHash ? (
        <a
          href={external ?? `/tx/${charge.txHash}`}
          className="font-mono text-muted underline"
          {...(external ? { target: "_blank", rel: "noreferrer" } : {})}
          title={`Settlement transaction ${charge.txHash}`}
          data-testid="settlement-tx"
        >
          tx {charge.txHash.slice(0, 10)}…
        </a>
      ) : null}
      {charge.failureReason && charge.status === "failed" ? <span className="min-w-0 text-red-700 wrap-anywhere">{charge.failureReason}</span> : null}
      {charge.note && charge.status !== "answering" ? (
        <span className="min-w-0 basis-full text-muted wrap-anywhere" data-testid="charge-note">
          {charge.note}
        </span>
      ) : null}
    </span>
  );
}

export function MessageView({
  message,
  token,
  charge,
  streaming,
  stopped: stoppedHere,
  question,
  check,
}: {
  message: ChatUIMessage;
  token: TokenInfo;
  charge?: MessageCharge;
  streaming?: boolean;
  /** This page stopped the answer (the stored answer says so after a reload). */
  stopped?: boolean;
  /** The question this message answers (its record hash binds it). */
  question?: string;
  /** Where to check a settled message's record on chain. */
  check?: { chainId: number; payer: Address };
}) {
  const text = textOf(message);
  if (message.role === "user") {
    return (
      <div className="flex justify-end">
        <div className="min-w-0 max-w-[85%] rounded-2xl rounded-br-sm bg-brand-700 px-4 py-2.5 text-white" data-testid="user-message">
          <p className="whitespace-pre-wrap wrap-anywhere">{text}</p>
        </div>
      </div>
    );
  }
  const sources = sourcesOf(message);
  const stopped = stoppedHere || message.metadata?.answerStatus === "stopped";
  return (
    <article className="min-w-0 max-w-[95%] space-y-3" data-testid="assistant-message" aria-busy={streaming || undefined}>
      <div className="rounded-2xl rounded-bl-sm border border-line bg-white px-4 py-3 shadow-sm">
        {text ? (
          <CitedText text={text} messageId={message.id} sources={sources} />
        ) : streaming ? (
          <p className="text-sm text-muted">{sources.length ? "Writing…" : "Searching the app's datasets…"}</p>
        ) : (
          <p className="text-sm text-muted" data-testid="no-answer">
            No answer{charge?.status === "void" ? ": nothing was charged for it." : "."}
          </p>
        )}
        {streaming ? <span className="ml-1 inline-block h-4 w-2 animate-pulse bg-brand-500 align-middle" aria-hidden /> : null}
        {stopped ? (
          <p className="mt-2 text-xs font-medium text-amber-800" data-testid="answer-stopped">
            Stopped before the end.
          </p>
        ) : null}
      </div>
      {sources.length ? (
        <details className="group rounded-lg border border-line bg-white/60 px-3 py-2 text-sm" open>
          <summary className="cursor-pointer text-xs font-semibold uppercase tracking-wide text-muted">Sources ({sources.length})</summary>
          <ol className="mt-2 space-y-2" data-testid="sources">
            {sources.map((s) => (
              <li key={s.n} id={`src-${message.id}-${s.n}`} className="scroll-mt-24 rounded-md border border-line bg-white p-2 target:ring-2 target:ring-brand-500">
                <div className="flex flex-wrap items-baseline gap-x-2 text-xs">
                  <span className="inline-flex size-5 items-center justify-center rounded bg-brand-100 font-semibold text-brand-800">{s.n}</span>
                  <span className="min-w-0 font-medium text-ink wrap-anywhere">{s.datasetName}</span>
                  <span className="min-w-0 text-muted wrap-anywhere" data-testid="source-citation">
                    · {s.citation ?? s.documentName}
                  </span>
                  {s.datasetVersion !== undefined ? (
                    <span className="text-muted" title="the dataset version this passage came from" data-testid="source-version">
                      · version {s.datasetVersion}
                    </span>
                  ) : null}
                  <span className="ml-auto tabular-nums text-muted" title="retrieval score">
                    score {s.score.toFixed(3)}
                  </span>
                </div>
                {s.citation && s.citation !== s.documentName ? (
                  <p className="mt-0.5 text-[11px] text-muted wrap-anywhere" data-testid="source-file">
                    {s.documentName}
                  </p>
                ) : null}
                <p className="mt-1 line-clamp-4 text-xs leading-5 text-slate-700 wrap-anywhere">{s.snippet}</p>
              </li>
            ))}
          </ol>
        </details>
      ) : null}
      {charge ? (
        <span className="flex flex-wrap gap-1">
          <ChargeLine charge={charge} token={token} />
          {check && question !== undefined && charge.status === "settled" && charge.txHash ? (
            <RecordCheck
              messageId={message.id}
              txHash={charge.txHash as Hex}
              chainId={check.chainId}
              payer={check.payer}
              question={question}
              answer={text}
              passages={sources.map((s) => s.chunkId)}
              datasetVersions={datasetVersionsOf(sources)}
              total={charge.total}
              token={token}
            />
          ) : null}
        </span>
      ) : null}
    </article>
  );
}
