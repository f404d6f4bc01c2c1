// Checking and describing DATABASE_URL, shared by the env reader, the start scripts and the CLI config.
// No driver import here: lib/env.ts is read by code that must stay free of database libraries.

/** Where a PostgreSQL URL points, without its password, for messages. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    // A `host` parameter (a Unix socket's directory, as the embedded server's URL has) wins over the host.
    const socket = parsed.searchParams.get("host");
    if (socket) return `${socket}/.s.PGSQL.${parsed.port || 5432}${parsed.pathname || "/"}`;
    return `${parsed.hostname || "localhost"}:${parsed.port || 5432}${parsed.pathname || "/"}`;
  } catch {
    return "(not a URL)";
  }
}

const DEFAULT_STATEMENT_CACHE_SIZE = 100;
export const statementCacheSizeProblem = "statement_cache_size must be a whole number (0 turns prepared statements off)";

/**
 * How many long statements each connection keeps prepared (lib/db-pool.ts): the URL's
 * `statement_cache_size`, Prisma's own parameter (default 100); 0 with Prisma's `pgbouncer=true`. Null
 * when the parameter is not a whole number.
 */
export function statementCacheSize(url: string): number | null {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return DEFAULT_STATEMENT_CACHE_SIZE;
  }
  if (params.get("pgbouncer") === "true") return 0;
  const size = params.get("statement_cache_size");
  if (size === null) return DEFAULT_STATEMENT_CACHE_SIZE;
  return /^\d{1,6}$/.test(size) ? Number(size) : null;
}

/** Why `url` is not a PostgreSQL URL, or null when it is one. */
export function databaseUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be a PostgreSQL URL such as "postgres://user:password@host:5432/kip"';
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return `must be a PostgreSQL URL (postgres://…), not ${parsed.protocol}… (an old data/kip.db SQLite file is not used)`;
  }
  if (!parsed.hostname && !parsed.searchParams.get("host")) return "must name a host, e.g. postgres://user:password@localhost:5432/kip";
  if (statementCacheSize(url) === null) return statementCacheSizeProblem;
  return null;
}
