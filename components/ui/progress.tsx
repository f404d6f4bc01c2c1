// A labelled progress bar (role="progressbar"); without a value it shows an indeterminate stripe.
export function Progress({
  label,
  value,
  max = 100,
  detail,
  tone = "brand",
  testId,
}: {
  label: string;
  value?: number;
  max?: number;
  detail?: string;
  tone?: "brand" | "red";
  testId?: string;
}) {
  const known = value !== undefined && max > 0;
  const percent = known ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  const bar = tone === "red" ? "bg-red-600" : "bg-brand-600";
  return (
    <div className="space-y-1.5" data-testid={testId}>
      <div className="flex items-baseline justify-between gap-3 text-sm">
        <span className="font-medium text-ink">{label}</span>
        <span className="tabular-nums text-muted">{detail ?? (known ? `${Math.floor(percent)}%` : "")}</span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={known ? max : undefined}
        aria-valuenow={known ? value : undefined}
        aria-valuetext={detail}
        className="h-2 overflow-hidden rounded-full bg-slate-200"
      >
        {known ? (
          <div className={`h-full rounded-full ${bar} transition-[width] duration-300`} style={{ width: `${percent}%` }} />
        ) : (
          <div className={`h-full w-1/3 animate-pulse rounded-full ${bar}`} />
        )}
      </div>
    </div>
  );
}
