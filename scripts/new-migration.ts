// `npm run db:migration -- <name>`: writes prisma/migrations/<NNNN>_<name>/migration.sql for the changes
// made to prisma/schema.prisma since the last migration. Prisma replays the committed migrations into a
// shadow database (which its pg adapter creates and drops) on a throwaway embedded PostgreSQL and
// compares the result with the schema, so the new migration is exactly the difference between what the
// committed migrations build and what the schema describes.
// Apply it with `prisma migrate deploy` (npm start does).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { withoutGeneratedDefaults } from "./stack/db";
import { startTemporaryPostgres } from "./stack/postgres";

const ROOT = path.resolve(import.meta.dirname, "..");

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run db:migration -- <name>   (lower case, digits and _)");
  process.exit(2);
}

async function main() {
  const server = await startTemporaryPostgres("kip-new-migration-");
  try {
    const migrations = path.join(ROOT, "prisma", "migrations");
    const diff = execFileSync(
      path.join(ROOT, "node_modules", ".bin", "prisma"),
      ["migrate", "diff", "--from-migrations", migrations, "--to-schema-datamodel", path.join(ROOT, "prisma", "schema.prisma"), "--script"],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: server.url, PRISMA_HIDE_UPDATE_MESSAGE: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    ).toString();
    const sql = withoutGeneratedDefaults(diff);
    if (!/[A-Za-z]/.test(sql.replace(/^--.*$/gm, ""))) {
      console.log("no schema changes since the last migration");
      process.exitCode = 1;
      return;
    }
    const count = fs.readdirSync(migrations, { withFileTypes: true }).filter((entry) => entry.isDirectory()).length;
    const dir = path.join(migrations, `${String(count + 1).padStart(4, "0")}_${name}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "migration.sql"), sql);
    console.log(`wrote ${path.relative(ROOT, dir)}/migration.sql`);
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
