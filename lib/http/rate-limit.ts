// Per-key request limits for the chat route, kept in the database so that every app server counts the
// same requests: a counter per key (wallet, client address) per minute of the database's clock. One
// statement counts a request against all of its keys and returns the counts; a request over a limit is
// refused (and still counted, so a client that keeps hammering stays refused until it pauses).
import type { Db } from "@/lib/db-client";
import { Prisma } from "@/lib/generated/prisma/client";

export interface LimitKey {
  /** e.g. `wallet:0xabc…` or `ip:203.0.113.7` */
  key: string;
  limit: number;
}

export interface LimitVerdict {
  /** The first key over its limit, or null when the request may go on. */
  exceeded: LimitKey | null;
  /** Milliseconds until the current minute ends (when a refused key may try again). */
  retryAfterMs: number;
}

/**
 * The CTEs `clock` and `counted` of a statement that counts one request against each key the query `keys`
 * returns (one text column), so another statement can count a request along with its own work (the chat's
 * sign-in check, lib/chat/server.ts). `atMs` replaces the database's clock (tests).
 */
export function countingCtes(keys: Prisma.Sql, atMs: number | null = null): Prisma.Sql {
  return Prisma.sql`clock AS (SELECT COALESCE(${atMs}::float8, extract(epoch FROM clock_timestamp()) * 1000) AS ms),
    counted AS (
      INSERT INTO "RateLimitWindow" ("key", "minute", "count")
      SELECT k, floor((SELECT ms FROM clock) / 60000)::int, 1 FROM (${keys}) AS keys(k)
      ON CONFLICT ("key", "minute") DO UPDATE SET "count" = "RateLimitWindow"."count" + 1
      RETURNING "key", "count", "minute"
    )`;
}

/** What `counted` returned, as one json column: [key, count, milliseconds until its minute ends] per key. */
export const COUNTED = Prisma.sql`(SELECT COALESCE(json_agg(json_build_array("key", "count", ceil(("minute"::bigint + 1) * 60000 - (SELECT ms FROM clock))::int)), '[]'::json) FROM counted)`;

/** The verdict on `keys` from COUNTED's rows. */
export function verdictOf(db: Db, keys: readonly LimitKey[], counted: readonly [string, number, number][]): LimitVerdict {
  const counts = new Map(counted.map(([key, count]) => [key, count]));
  const exceeded = keys.find((k) => (counts.get(k.key) ?? 0) > k.limit) ?? null;
  // Past minutes are never read again; drop them now and then.
  if (Math.random() < 0.01) void sweepRateLimits(db).catch(() => undefined);
  return { exceeded, retryAfterMs: Math.max(1, counted[0]?.[2] ?? 60_000) };
}

/** Counts one request against each key; one round trip. `atMs` replaces the database's clock (tests). */
export async function takeRateLimits(db: Db, keys: readonly LimitKey[], atMs: number | null = null): Promise<LimitVerdict> {
  const [row] = await db.$queryRaw<{ counted: [string, number, number][] }[]>`
    WITH ${countingCtes(Prisma.sql`SELECT unnest(${keys.map((k) => k.key)}::text[])`, atMs)}
    SELECT ${COUNTED} AS counted`;
  return verdictOf(db, keys, row.counted);
}

/** Deletes counters of minutes before the previous one. */
export async function sweepRateLimits(db: Db): Promise<number> {
  return db.$executeRaw(Prisma.sql`DELETE FROM "RateLimitWindow" WHERE "minute" < floor(extract(epoch FROM clock_timestamp()) / 60)::int - 1`);
}
