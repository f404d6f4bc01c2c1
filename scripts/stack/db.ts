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
