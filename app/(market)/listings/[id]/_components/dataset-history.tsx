// A dataset's public record, rendered on the server: its retrieval scorecard (the platform's own recall@1,
// recall@5 and MRR on the owner's questions, with their number and the version measured) and its version
// history (documents added and removed, date, whether the chain holds the version's metadata hash).
import type { VersionView } from "@/lib/datasets/versions";
import type { ScorecardView } from "@/lib/datasets/scorecards";

const STATUS_STYLE: Record<VersionView["status"], string> = {
  "on chain": "bg-emerald-100 text-emerald-900",
  pending: "bg-amber-100 text-amber-900",
  superseded: "bg-slate-100 text-slate-700",
  draft: "bg-slate-100 text-slate-700",
};

function names(list: { name: string }[]): string {
  const shown = list.slice(0, 5).map((d) => d.name).join(", ");
  return list.length > 5 ? `${shown} and ${list.length - 5} more` : shown;
}

export function ScorecardFigures({ scorecard, current }: { scorecard: ScorecardView | null; current: number }) {
  if (!scorecard) {
    return (
      <p className="text-sm text-muted" data-testid="scorecard-empty">
        No scorecard yet: its owner has not attached questions with their expected documents.
      </p>
    );
  }
  const figures = [
    ["Recall@1", scorecard.recallAt1.toFixed(2), "recall-at-1"],
    ["Recall@5", scorecard.recallAt5.toFixed(2), "recall-at-5"],
    ["MRR", scorecard.mrr.toFixed(2), "mrr"],
  ];
  return (
    <div data-testid="scorecard">
      <dl className="grid grid-cols-3 gap-3">
        {figures.map(([label, value, key]) => (
          <div key={key} className="min-w-0 rounded-lg border border-line bg-slate-50 p-3">
            <dt className="text-xs font-medium uppercase tracking-wide text-muted">{label}</dt>
            <dd className="mt-1 text-lg font-semibold tabular-nums text-ink" data-testid={`scorecard-${key}`}>
              {value}
            </dd>
          </div>
        ))}
      </dl>
      <p className="mt-2 text-xs text-muted" data-testid="scorecard-basis">
        The marketplace&apos;s own retrieval on {scorecard.questions} question{scorecard.questions === 1 ? "" : "s"} set by the owner, each with the document
        expected to answer it; measured on version {scorecard.version}
        {scorecard.version !== current ? ` (the dataset is now at version ${current}; measuring it again)` : ""}.
      </p>
    </div>
  );
}

export function VersionHistory({ versions }: { versions: VersionView[] }) {
  return (
    <ol className="divide-y divide-line" data-testid="version-history">
      {versions.map((v) => (
        <li key={v.number} className="space-y-1 py-3 text-sm" data-testid={`version-${v.number}`}>
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-semibold text-ink">Version {v.number}</span>
            <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[v.status]}`} data-testid="version-status">
              {v.status === "pending" ? `version ${v.number} pending on chain` : v.status}
            </span>
            <time className="ml-auto text-xs text-muted" dateTime={v.createdAt}>
              {new Date(v.createdAt).toISOString().slice(0, 16).replace("T", " ")} UTC
            </time>
          </div>
          <p className="text-xs text-muted wrap-anywhere">
            {v.documents} document{v.documents === 1 ? "" : "s"}
            {v.added.length ? ` · added ${names(v.added)}` : ""}
            {v.removed.length ? ` · removed ${names(v.removed)}` : ""}
          </p>
          <p className="break-all font-mono text-[11px] text-slate-500" title="sha256 over the version's documents">
            {v.contentHash}
          </p>
        </li>
      ))}
    </ol>
  );
}
