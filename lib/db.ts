import "server-only";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { createDb } from "@/lib/db-client";
import { serverEnv } from "@/lib/env";

// One Prisma client per process, opened on first use (never at import, so `next build` needs no env),
// and kept on globalThis so dev-server reloads do not open more.
const globalForDb = globalThis as unknown as { kipDb?: PrismaClient };

export function getDb(): PrismaClient {
  globalForDb.kipDb ??= createDb(serverEnv().DATABASE_URL);
  return globalForDb.kipDb;
}
