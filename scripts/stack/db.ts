// Applies the committed Prisma migrations to the PostgreSQL at `databaseUrl` (offline: Prisma's JS
// schema engine through @prisma/adapter-pg, see prisma.config.ts).
import path from "node:path";
import { run } from "./process";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

export async function migrateDatabase(databaseUrl: string): Promise<void> {
  await run(path.join(ROOT, "node_modules", ".bin", "prisma"), ["migrate", "deploy"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
}

/**
 * Columns the database computes (GENERATED ALWAYS AS … STORED, written by hand in their migration).
 * Prisma's datamodel cannot say so, and its diff reads each one's expression as a default to drop.
 */
const GENERATED_COLUMNS = [{ table: "Receipt", column: "seqNumber" }];

/** `sql` without the DROP DEFAULT clauses Prisma writes for GENERATED_COLUMNS (and statements left empty by that). */
export function withoutGeneratedDefaults(sql: string): string {
  let out = sql;
  for (const { table, column } of GENERATED_COLUMNS) {
    const clause = `ALTER COLUMN "${column}" DROP DEFAULT`;
    out = out.replace(new RegExp(`ALTER TABLE "${table}" ([^;]*);`, "g"), (statement: string, clauses: string) => {
      if (!clauses.includes(clause)) return statement;
      const kept = clauses.split(/,\s*/).filter((c) => c.trim() !== clause);
      return kept.length ? `ALTER TABLE "${table}" ${kept.join(",\n")};` : "";
    });
  }
  return out.replace(/-- AlterTable\n\s*(?=\n|$)/g, "");
}
