// Opening a Prisma client on a SQLite file. Used by lib/db.ts (the app's one client) and by scripts
// (seed, tests) that run outside Next.js and so cannot import "server-only" modules.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { databaseFilePath } from "@/lib/db-path";

const files = new WeakMap<PrismaClient, string>();

export function createDb(databaseUrl: string): PrismaClient {
  const file = databaseFilePath(databaseUrl);
  const client = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: file }) });
  files.set(client, file);
  return client;
}

/** The SQLite file a client opened (for the bulk writers that bypass Prisma, lib/rag/bulk.ts). */
export function databaseFileOf(client: PrismaClient): string {
  const file = files.get(client);
  if (!file) throw new Error("this Prisma client was not opened with createDb");
  return file;
}

export type Db = PrismaClient;
