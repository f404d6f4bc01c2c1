// Direct better-sqlite3 access to the Prisma client's SQLite file, for the chat hot path (lib/chat/store.ts,
// the index-version check of lib/rag/search.ts). Each Prisma query costs ~0.3-1 ms of CPU in its query
// compiler and driver adapter, against ~10-30 µs for a prepared statement; a paid chat message ran ~12 of
// them on a server with one core. Rows written here must read back through Prisma: ids are strings
// (newId() for what Prisma would give a cuid), DateTime columns hold Prisma's ISO-8601 text, and columns
// Prisma fills itself (@updatedAt, @default(now())) are written explicitly.
//
// Busy handling: Prisma's interactive transactions hold SQLite locks across awaits on its own connection.
// A blocking busy-wait on this connection would stop the event loop and with it the transaction it waits
// for, so this connection waits only briefly and `direct()` retries later without blocking.
//
// SQLite library: the one Prisma's adapter loads (its own better-sqlite3, a different major version than
// the app's). Two SQLite libraries in one process do not see each other's locks (POSIX locks belong to the
// process, and each library tracks them for its own connections only), so a write here could land in the
// middle of a Prisma transaction: measured, its commit then failed with "disk I/O error".
import crypto from "node:crypto";
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { databaseFileOf, type Db } from "@/lib/db-client";

// Resolved at run time, past the bundler (Turbopack would turn the resolve into a module id).
const requireHere = createRequire(/* turbopackIgnore: true */ import.meta.url);
const adapterPath = requireHere.resolve(/* turbopackIgnore: true */ "@prisma/adapter-better-sqlite3");
const Database = createRequire(/* turbopackIgnore: true */ adapterPath)(/* turbopackIgnore: true */ "better-sqlite3") as typeof BetterSqlite3;
type Database = BetterSqlite3.Database;

const connections = new Map<string, Database>();
const statements = new WeakMap<Database, Map<string, BetterSqlite3.Statement>>();

/** A short blocking wait covers another process's commit; longer waits are retried asynchronously. */
const BUSY_BLOCK_MS = 20;
/** Give up after this long, as lib/rag/bulk.ts does. */
const BUSY_GIVE_UP_MS = 15_000;

function connection(db: Db): Database {
  const file = databaseFileOf(db);
  let sqlite = connections.get(file);
  if (!sqlite || !sqlite.open) {
    sqlite = new Database(file, { timeout: BUSY_BLOCK_MS });
    sqlite.pragma("foreign_keys = ON");
    connections.set(file, sqlite);
  }
  return sqlite;
}

/** The connection and a prepared-statement cache keyed by SQL text. */
export interface Direct {
  sqlite: Database;
  prepare(sql: string): BetterSqlite3.Statement;
}

function handle(db: Db): Direct {
  const sqlite = connection(db);
  let cache = statements.get(sqlite);
  if (!cache) statements.set(sqlite, (cache = new Map()));
  const prepared = cache;
  return {
    sqlite,
    prepare(sql) {
      let statement = prepared.get(sql);
      if (!statement) prepared.set(sql, (statement = sqlite.prepare(sql)));
      return statement;
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = String((error as { code?: string }).code);
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code.startsWith("SQLITE_BUSY_");
}

/**
 * Runs `work` (synchronous: one statement, or one `sqlite.transaction(...)`) and retries it while the
 * database is locked by another connection. `work` must not have effects outside SQLite before it throws.
 */
export async function direct<T>(db: Db, work: (d: Direct) => T): Promise<T> {
  const d = handle(db);
  const giveUpAt = Date.now() + BUSY_GIVE_UP_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return work(d);
    } catch (error) {
      if (!isBusy(error) || Date.now() >= giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 5) * (0.5 + Math.random())));
    }
  }
}

/** Prisma stores DateTime in SQLite as ISO-8601 text with an explicit offset. */
export function sqliteDate(date: Date): string {
  return date.toISOString().replace("Z", "+00:00");
}

let counter = crypto.randomInt(36 ** 4);

/** A collision-resistant id in the shape of Prisma's cuid(): "c", time, counter and random, base 36. */
export function newId(): string {
  counter = (counter + 1) % 36 ** 4;
  const random = crypto.randomBytes(8).readBigUInt64BE().toString(36).padStart(13, "0").slice(0, 12);
  return `c${Date.now().toString(36).padStart(8, "0")}${counter.toString(36).padStart(4, "0")}${random}`;
}

/** A unique or primary-key constraint failed (better-sqlite3's error codes). */
export function isDirectUniqueViolation(error: unknown): boolean {
  const code = String((error as { code?: string }).code);
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
