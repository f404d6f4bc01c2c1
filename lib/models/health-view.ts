// What a model endpoint's health looks like to the pages (listing, app, chat) and the creator forms: the
// last probe's status, latency and reason, in words. No server imports: the browser uses it too.

export type HealthStatus = "up" | "down" | "unknown";

export interface ModelHealthView {
  /** up | down | unknown (never probed yet, or reachable without a way to tell more) */
  status: HealthStatus;
  /** The built-in offline model: no endpoint, always available. */
  builtIn: boolean;
  /** Milliseconds until the endpoint's answer began, at the last probe that got one. */
  latencyMs: number | null;
  /** When the last probe finished (ISO 8601), null when never probed. */
  checkedAt: string | null;
  /** Why it is down or unknown, in plain words. */
  reason: string | null;
  /** The last probe is too old to say much about now: the chat does not refuse on it. */
  stale: boolean;
}

export const BUILT_IN_HEALTH: ModelHealthView = { status: "up", builtIn: true, latencyMs: null, checkedAt: null, reason: null, stale: false };

/** True when the last probe, recent enough to trust, found the endpoint down: chats are refused. */
export function isDown(health: ModelHealthView | null | undefined): boolean {
  return Boolean(health && health.status === "down" && !health.stale);
}

/** "12 s ago", "3 min ago", "2 h ago". */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

/** A short label: "Up", "Down", "Not checked yet", "Built in". */
export function healthLabel(health: ModelHealthView): string {
  if (health.builtIn) return "Built in, always available";
  if (!health.checkedAt) return "Not checked yet";
  if (health.status === "up") return "Up";
  if (health.status === "down") return "Down";
  return "Unknown";
}

/** The label with the latency and the age of the check: "Up · 42 ms · checked 12 s ago". */
export function healthSummary(health: ModelHealthView, now = Date.now()): string {
  const parts = [healthLabel(health)];
  if (health.builtIn || !health.checkedAt) return parts[0];
  if (health.latencyMs !== null) parts.push(`${health.latencyMs.toLocaleString("en")} ms`);
  parts.push(`checked ${ago(health.checkedAt, now)}${health.stale ? " (out of date)" : ""}`);
  return parts.join(" · ");
}
