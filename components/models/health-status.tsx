// A model endpoint's health as its last probe found it: a coloured dot, the status, the latency and the
// age of the check, and (when down or unknown) why. Used by the listing, app and chat pages and the app form.
import { healthSummary, isDown, type ModelHealthView } from "@/lib/models/health-view";

const DOT = { up: "bg-emerald-500", down: "bg-red-500", unknown: "bg-slate-400" } as const;

export function HealthBadge({ health, className = "" }: { health: ModelHealthView; className?: string }) {
  const tone = health.stale && !health.builtIn ? "unknown" : health.status;
  return (
    <span className={`inline-flex max-w-full items-center gap-1.5 ${className}`} data-testid="model-health" data-status={health.status} data-stale={health.stale || undefined}>
      <span aria-hidden className={`size-2 shrink-0 rounded-full ${DOT[tone]}`} />
      {/* The age is computed where it is rendered: the server's and the browser's seconds may differ. */}
      <span className="min-w-0 wrap-anywhere" suppressHydrationWarning>
        {healthSummary(health)}
      </span>
    </span>
  );
}

/** The status with its reason, for a card or a details list. */
export function HealthDetail({ health }: { health: ModelHealthView }) {
  return (
    <span className="block min-w-0">
      <HealthBadge health={health} />
      {health.reason && health.status !== "up" ? (
        <span className={`mt-1 block text-xs wrap-anywhere ${isDown(health) ? "text-red-700" : "text-muted"}`} data-testid="model-health-reason">
          {health.reason}
        </span>
      ) : null}
      {!health.builtIn && !health.checkedAt ? <span className="mt-1 block text-xs text-muted">Not probed yet: the server probes listed models every so often, and a creator&apos;s listing step probes at once.</span> : null}
    </span>
  );
}

/** What a user sees before sending or paying when the app's model is down. */
export function ModelDownNotice({ modelName, health }: { modelName: string; health: ModelHealthView }) {
  if (!isDown(health)) return null;
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800 wrap-anywhere" data-testid="model-down">
      <p className="font-medium">This app&apos;s model, “{modelName}”, is down.</p>
      <p className="mt-1">
        {health.reason ? `${health.reason.charAt(0).toUpperCase()}${health.reason.slice(1)}. ` : ""}Questions are refused until it answers again, and nothing is charged for them.
      </p>
      <p className="mt-1 text-xs" suppressHydrationWarning>
        {healthSummary(health)}
      </p>
    </div>
  );
}
