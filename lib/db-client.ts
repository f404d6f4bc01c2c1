// Opening a Prisma client on PostgreSQL through the `pg` driver adapter. Used by lib/db.ts (the app's one
// client) and by scripts (seed, settlement worker, tests, benchmarks) that run outside Next.js and so
// cannot import "server-only" modules.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient, type Prisma } from "@/lib/generated/prisma/client";
import { poolConfig } from "@/lib/db-pool";

export function createDb(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(poolConfig(databaseUrl)) });
}

export type Db = PrismaClient;

/**
 * Runs `run` in one transaction holding the PostgreSQL advisory lock named `key` until it ends: every
 * process doing the same under the same key (on any app server) waits for it. `timeoutMs` bounds both the
 * wait for a connection and the transaction.
 */
export function withAdvisoryLock<T>(db: Db, key: string, timeoutMs: number, run: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
    return run(tx);
  }, { maxWait: timeoutMs, timeout: timeoutMs });
}
