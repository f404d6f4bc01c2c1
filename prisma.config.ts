// Prisma 6.19 with the JS schema engine and the pg driver adapter: migrations run offline (no native
// engine download). See README "Database".
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";
import { poolConfig } from "./lib/db-pool";

// The schema's datasource must name DATABASE_URL, or the CLI falls back to its native engine (a
// download). `prisma generate` needs no database: a placeholder lets it run without one.
process.env.DATABASE_URL ||= "postgres://localhost:5432/kip";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    // poolConfig's clients report Postgres' `name` columns as text, which the migration engine needs.
    return new PrismaPg(poolConfig(process.env.DATABASE_URL!));
  },
});
