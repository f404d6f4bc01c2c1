"use client";
// What a transaction from useTransactor is doing, in words, with its hash once there is one.
import type { TransactorState } from "@/components/web3/use-transactor";
import { TxLink } from "@/components/web3/tx-link";

/**
 * `shownBlock`: the block the figures beside this status were read at. A mined transaction shows as
 * "updating" until they are read at or after its block, so its message never sits beside stale figures.
 */
export function TransactionStatus({ state, minedText = "Confirmed.", shownBlock }: { state: TransactorState; minedText?: string; shownBlock?: bigint | number }) {
  if (state.status === "idle") return null;
  if (state.status === "mined" && shownBlock !== undefined && state.blockNumber !== null && BigInt(shownBlock) < state.blockNumber) {
    return (
      <div role="status" data-testid="tx-status" data-status="updating" className="flex flex-wrap items-center gap-2 rounded-lg border border-brand-200 bg-brand-50 px-3 py-2 text-sm text-brand-900">
        <span className="size-3 animate-spin rounded-full border-2 border-current border-t-transparent" aria-hidden />
        <span className="min-w-0">Mined in block {state.blockNumber.toLocaleString("en-US")}; reading the new figures from the chain…</span>
        {state.hash ? <TxLink hash={state.hash} className="text-xs" /> : null}
      </div>
    );
  }
  const tone =
    state.status === "failed"
      ? "border-red-200 bg-red-50 text-red-800"
      : state.status === "mined"
        ? "border-emerald-200 bg-emerald-50 text-emerald-900"
        : "border-brand-200 bg-brand-50 text-brand-900";
  return (
    <div role={state.status === "failed" ? "alert" : "status"} data-testid="tx-status" data-status={state.status} className={`flex flex-wrap items-center gap-2 rounded-lg border px-3 py-2 text-sm ${tone}`}>
      {state.status === "signing" || state.status === "pending" ? (
        <span className="size-3 animate-spin rounded-full border-2 border-current border-t-transparent" aria-hidden />
      ) : null}
      <span className="min-w-0 wrap-anywhere">
        {state.status === "signing" && "Confirm the transaction in your wallet…"}
        {state.status === "pending" && "Waiting for the transaction to be mined…"}
        {state.status === "mined" && minedText}
        {state.status === "failed" && (state.error ?? "The transaction failed.")}
      </span>
      {state.hash ? <TxLink hash={state.hash} className="text-xs" /> : null}
    </div>
  );
}
