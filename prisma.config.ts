// Prisma 6.19 with the JS schema engine and the better-sqlite3 driver adapter: migrations run offline
// (no native engine download). See README "Database".
import path from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { DEFAULT_DATABASE_URL, databaseFilePath } from "./lib/db-path";

// The schema's datasource reads DATABASE_URL; without it Prisma would fall back to its native engine
// (a download). Default it like the app does.
process.env.DATABASE_URL ||= DEFAULT_DATABASE_URL;

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    return new PrismaBetterSQLite3({ url: databaseFilePath() });
  },
});
