// Opening a Prisma client on a SQLite file. Used by lib/db.ts (the app's one client) and by scripts
// (seed, tests) that run outside Next.js and so cannot import "server-only" modules.
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { databaseFilePath } from "@/lib/db-path";

export function createDb(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: databaseFilePath(databaseUrl) }) });
}

export type Db = PrismaClient;
