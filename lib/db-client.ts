// Opening a Prisma client on PostgreSQL through the `pg` driver adapter. Used by lib/db.ts (the app's one
// client) and by scripts (seed, settlement worker, tests, benchmarks) that run outside Next.js and so
// cannot import "server-only" modules.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { poolConfig } from "@/lib/db-pool";

export function createDb(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(poolConfig(databaseUrl)) });
}

export type Db = PrismaClient;
