// Where the SQLite database lives. Shared by the Prisma CLI config, the app and the start scripts,
// so all of them open the same file. DATABASE_URL (file:...) overrides the default data/kip.db.
import path from "node:path";

export const DEFAULT_DATABASE_URL = "file:./data/kip.db";

/** Absolute path of the SQLite file named by DATABASE_URL (relative paths are from the repo root / cwd). */
export function databaseFilePath(url: string = process.env.DATABASE_URL || DEFAULT_DATABASE_URL): string {
  if (!url.startsWith("file:")) {
    throw new Error(`DATABASE_URL must be a SQLite file URL like "file:./data/kip.db" (got "${url}")`);
  }
  const file = url.slice("file:".length);
  return path.isAbsolute(file) ? file : path.resolve(/*turbopackIgnore: true*/ process.cwd(), file);
}
