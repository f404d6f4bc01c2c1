// Applies the committed Prisma migrations (offline: Prisma's JS schema engine + better-sqlite3).
import fs from "node:fs";
import path from "node:path";
import { databaseFilePath } from "../../lib/db-path";
import { run } from "./process";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

export async function migrateDatabase(databaseUrl: string): Promise<string> {
  const file = databaseFilePath(databaseUrl);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await run(path.join(ROOT, "node_modules", ".bin", "prisma"), ["migrate", "deploy"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
  return file;
}
