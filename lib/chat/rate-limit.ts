// Per-key request limits for the chat route: a sliding window of one minute per wallet and per IP.
// Kept in the server's memory: one app process enforces its own limits (docs/SECURITY.md).

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private sweeps = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Records a hit for `key`; returns 0 when allowed, else the milliseconds until the next one would be. */
  take(key: string, now = Date.now()): number {
    const since = now - this.windowMs;
    const list = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (list.length >= this.limit) {
      this.hits.set(key, list);
      return list[0] + this.windowMs - now;
    }
    list.push(now);
    this.hits.set(key, list);
    if (++this.sweeps % 1000 === 0) this.sweep(now);
    return 0;
  }

  private sweep(now: number) {
    for (const [key, list] of this.hits) if (!list.some((t) => t > now - this.windowMs)) this.hits.delete(key);
  }
}

/** The caller's IP as the proxy in front of the app reports it (Next.js sets x-forwarded-for itself). */
export function clientIp(request: Request): string {
  const forwarded = request.headers.get("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0].trim();
  return request.headers.get("x-real-ip") ?? "unknown";
}
