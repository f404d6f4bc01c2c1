"use client";
// Shows a useTransactor state: waiting for the wallet, pending (with the hash), mined, or failed (why).
import type { TransactionState } from "@/components/web3/use-transactor";

function ShortHash({ hash }: { hash: string }) {
  return (
    <span className="font-mono" title={hash}>
      {hash.slice(0, 10)}…{hash.slice(-8)}
    </span>
  );
}

export function TransactionStatus({ state, labels = {} }: { state: TransactionState; labels?: { mined?: string; pending?: string } }) {
  if (state.status === "idle") return null;
  const styles = {
    signing: "border-amber-200 bg-amber-50 text-amber-900",
    pending: "border-sky-200 bg-sky-50 text-sky-900",
    mined: "border-emerald-200 bg-emerald-50 text-emerald-900",
    failed: "border-red-200 bg-red-50 text-red-800",
  }[state.status];
  return (
    <div
      role={state.status === "failed" ? "alert" : "status"}
      aria-live="polite"
      data-testid="transaction-status"
      data-status={state.status}
      className={`flex items-start gap-3 rounded-lg border px-4 py-3 text-sm ${styles}`}
    >
      <span className="mt-0.5" aria-hidden>
        {state.status === "signing" || state.status === "pending" ? (
          <span className="inline-block size-3.5 animate-spin rounded-full border-2 border-current border-t-transparent" />
        ) : state.status === "mined" ? (
          "✓"
        ) : (
          "!"
        )}
      </span>
      <div className="min-w-0 space-y-0.5">
        {state.status === "signing" ? <p>Confirm the transaction in your wallet…</p> : null}
        {state.status === "pending" ? (
          <p>
            {labels.pending ?? "Transaction pending"}: <ShortHash hash={state.hash} />
          </p>
        ) : null}
        {state.status === "mined" ? (
          <p>
            {labels.mined ?? "Transaction mined"}: <ShortHash hash={state.hash} /> (block {state.receipt.blockNumber.toString()})
          </p>
        ) : null}
        {state.status === "failed" ? (
          <p>
            {state.message}
            {state.hash ? (
              <>
                {" "}
                (<ShortHash hash={state.hash} />)
              </>
            ) : null}
          </p>
        ) : null}
      </div>
    </div>
  );
}
