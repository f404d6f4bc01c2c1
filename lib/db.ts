import "server-only";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { databaseFilePath } from "@/lib/db-path";
import { serverEnv } from "@/lib/env";

// One Prisma client per process, opened on first use (never at import, so `next build` needs no env),
// and kept on globalThis so dev-server reloads do not open more.
const globalForDb = globalThis as unknown as { kipDb?: PrismaClient };

export function createDb(databaseUrl: string): PrismaClient {
  const adapter = new PrismaBetterSQLite3({ url: databaseFilePath(databaseUrl) });
  return new PrismaClient({ adapter });
}

export function getDb(): PrismaClient {
  globalForDb.kipDb ??= createDb(serverEnv().DATABASE_URL);
  return globalForDb.kipDb;
}
