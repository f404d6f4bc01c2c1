import type { ReactNode } from "react";

/** One labelled number with the transactions behind it underneath. */
export function Figure({ label, value, sources, testId }: { label: string; value: ReactNode; sources?: ReactNode; testId?: string }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-medium uppercase tracking-wide text-muted">{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums text-ink wrap-anywhere" data-testid={testId}>
        {value}
      </dd>
      {sources ? <dd className="mt-0.5">{sources}</dd> : null}
    </div>
  );
}

export function KindBadge({ kind }: { kind: string }) {
  const tone = kind === "app" ? "bg-violet-50 text-violet-800 ring-violet-200" : kind === "model" ? "bg-sky-50 text-sky-800 ring-sky-200" : "bg-amber-50 text-amber-900 ring-amber-200";
  return <span className={`shrink-0 rounded-full px-2 py-0.5 text-xs font-medium capitalize ring-1 ${tone}`}>{kind}</span>;
}
