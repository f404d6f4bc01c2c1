// The PostgreSQL connection pool configuration under the Prisma client (lib/db-client.ts) and the Prisma CLI
// (prisma.config.ts). No Prisma import here: prisma.config.ts loads this before the client is generated.
//
// Every query a client sends is one round trip to the server (transactions' BEGIN and COMMIT included),
// and is counted, so the benchmark can report the database round trips per paid message. Statements with
// parameters are prepared once per connection (CountingClient, below).
import { createHash } from "node:crypto";
import pg from "pg";
import { statementCacheSize, statementCacheSizeProblem } from "./db-url";

// On globalThis: bundled route handlers may each hold their own copy of this module.
const counter = globalThis as unknown as { kipDatabaseRoundTrips?: number; kipPreparedRoundTrips?: number };

/** Queries sent to PostgreSQL by this process so far. */
export function databaseRoundTrips(): number {
  return counter.kipDatabaseRoundTrips ?? 0;
}

/** Of them, the queries sent as a named prepared statement (see CountingClient). */
export function preparedRoundTrips(): number {
  return counter.kipPreparedRoundTrips ?? 0;
}

// Postgres' `name` and `"char"` types (OIDs 19 and 18, in the catalogs the migration engine reads) have
// no mapping in @prisma/adapter-pg 6.19 (prisma/orm#27403): reported as text (OID 25), which they are
// on the wire. Application tables use neither.
const CATALOG_TEXT_OIDS = new Set([18, 19]);
const TEXT_OID = 25;

function nameAsText<T>(result: T): T {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const field of (r as pg.QueryResult | undefined)?.fields ?? []) if (CATALOG_TEXT_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
  }
  return result;
}

/** The number of statements each connection keeps prepared under `connectionString`'s parameters. */
function cacheSizeOf(connectionString: string): number {
  const size = statementCacheSize(connectionString);
  if (size === null) throw new Error(`DATABASE_URL: ${statementCacheSizeProblem}`);
  return size;
}

// Errors after which a named statement may no longer run as it did, so it is dropped and prepared anew
// under another name next time: a migration changed a column it reads (0A000, "cached plan must not
// change result type") or a parameter's type, a table or a function under it (classes 22 and 42), or pg
// failed to send it (no SQLSTATE; a failed Bind closes the statement). Other errors (a constraint such as
// a voucher number taken, a serialization failure, a timeout, an aborted transaction) say nothing about
// the statement, which is kept.
const STALE_STATEMENT = /^(?:0A|22|42)/;
// The server no longer has the connection's statements (DISCARD ALL or DEALLOCATE ALL, by a pooler).
const UNKNOWN_STATEMENT = "26000";

type QueryConfig = { text?: unknown; name?: unknown; values?: unknown; queryMode?: unknown };
type CountingConfig = pg.ClientConfig & { kipStatementCacheSize?: number };

/**
 * Counts its queries, and prepares statements once per connection, as Prisma's own query engine did with
 * its statement cache (which the driver adapter does not have): a statement with parameters gets a name
 * the first time a connection sends it, and after that is only bound and run. A paid chat message's
 * statements are long (its admission's reading alone is 1,500 characters); parsing and planning them
 * again for every message was about 40% of PostgreSQL's CPU time per message.
 *
 * Each connection keeps the `statement_cache_size` (the URL's parameter, Prisma's name; default 100)
 * statements it used last, and deallocates the least recently used to make room. A statement that may
 * have gone stale (after an error that implicates it) is deallocated too, as soon as the connection is
 * out of a failed transaction.
 *
 * `statement_cache_size=0`, or Prisma's `pgbouncer=true`, turns naming off: for a pooler in transaction
 * mode that does not keep prepared statements per client (PgBouncer before 1.24 unless
 * max_prepared_statements is set). Behind such a pooler with naming on, statements fail with "does not
 * exist" or "already exists"; they never run as another statement.
 */
class CountingClient extends pg.Client {
  /** Statement text → its name on this connection, least recently used first. */
  readonly #prepared = new Map<string, string>();
  readonly #cacheSize: number;
  #names = 0;
  /** Names dropped on this side that the server may still hold: deallocated once it takes commands. */
  readonly #undropped = new Set<string>();
  /** The transaction status of the server's last ReadyForQuery: I (idle), T (in a transaction), E (failed). */
  #status = "I";

  constructor(config?: string | CountingConfig) {
    super(config);
    this.#cacheSize = typeof config === "object" ? (config.kipStatementCacheSize ?? 0) : 0;
    (this as unknown as { connection: { on(event: "readyForQuery", f: (m: { status: string }) => void): void } }).connection.on("readyForQuery", (m) => {
      this.#status = m.status;
    });
  }

  /**
   * The name `config`'s statement runs under on this connection, or undefined to run it unnamed. A name
   * is its text's hash and a number never used before on this connection: one name always means one text,
   * on any connection (a pooler that mixes connections makes a name unknown or taken, an error, never
   * another statement), and a name forgotten after a failure is never sent again.
   */
  #nameFor(config: QueryConfig): string | undefined {
    const { text, values } = config;
    // Past as many undropped statements as it keeps, a connection names nothing: the server's memory
    // per connection stays bounded whatever errors a client provokes.
    // (With statement_cache_size=0 that is always.)
    if (this.#undropped.size >= this.#cacheSize) return undefined;
    if (typeof text !== "string" || config.name !== undefined || config.queryMode !== undefined) return undefined;
    if (typeof (config as { submit?: unknown }).submit === "function") return undefined;
    // Without parameters pg uses the simple protocol, which also runs several statements in one text.
    if (!Array.isArray(values) || values.length === 0) return undefined;
    let name = this.#prepared.get(text);
    if (name !== undefined) {
      // Most recently used last: a Map iterates in insertion order.
      this.#prepared.delete(text);
    } else {
      if (this.#prepared.size >= this.#cacheSize) this.#deallocateOldest();
      name = `kip_${createHash("sha256").update(text).digest("hex").slice(0, 24)}_${++this.#names}`;
    }
    this.#prepared.set(text, name);
    return name;
  }

  /**
   * Drops the least recently used statement, queued before the statement that needs its room: a query
   * already queued with its name runs first, and finds it parsed (pg forgets it once it is gone).
   */
  #deallocateOldest(): void {
    const [text, name] = this.#prepared.entries().next().value!;
    this.#prepared.delete(text);
    this.#deallocate(name);
  }

  /**
   * DEALLOCATE `name`, queued like any query. It fails only in a transaction that already failed: the
   * name is then kept to be dropped once the server takes commands again.
   */
  #deallocate(name: string): void {
    counter.kipDatabaseRoundTrips = (counter.kipDatabaseRoundTrips ?? 0) + 1;
    (super.query(`DEALLOCATE ${name}`) as unknown as Promise<unknown>).then(
      () => delete this.#parsedStatements()[name],
      (error: { code?: unknown }) => {
        if (error?.code === UNKNOWN_STATEMENT) delete this.#parsedStatements()[name];
        else this.#undropped.add(name);
      },
    );
  }

  /** pg's record of the statements this connection has parsed, by name. */
  #parsedStatements(): Record<string, string> {
    return (this as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements;
  }

  /**
   * After `error` on the named statement `text`: the statement is not used again (its name never is; a
   * query already queued with it runs as pg knows it). After "does not exist", none of the connection's.
   */
  #failed(text: string, name: string, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === UNKNOWN_STATEMENT) {
      const parsed = this.#parsedStatements();
      for (const known of [...this.#prepared.values(), ...this.#undropped]) delete parsed[known];
      this.#prepared.clear();
      this.#undropped.clear();
    } else if (typeof code !== "string" || STALE_STATEMENT.test(code)) {
      if (this.#prepared.get(text) === name) this.#prepared.delete(text);
      // Dropped on the server by the next query this connection sends outside a failed transaction.
      this.#undropped.add(name);
    }
  }

  // pg's query() has many overloads (promise, callback, submittable); each call is one round trip.
  query(...args: unknown[]): never {
    if (this.#undropped.size > 0 && this.#status !== "E") {
      for (const undropped of [...this.#undropped]) {
        this.#undropped.delete(undropped);
        this.#deallocate(undropped);
      }
    }
    counter.kipDatabaseRoundTrips = (counter.kipDatabaseRoundTrips ?? 0) + 1;
    const first = args[0];
    const name = first !== null && typeof first === "object" ? this.#nameFor(first as QueryConfig) : undefined;
    if (name !== undefined) {
      args[0] = { ...(first as QueryConfig), name };
      counter.kipPreparedRoundTrips = (counter.kipPreparedRoundTrips ?? 0) + 1;
    }
    const failed = (error: unknown) => {
      if (!error) return;
      // pg settles a failed query on the server's error, before the ReadyForQuery that follows it: an
      // error from the server inside a transaction has already failed that transaction.
      if (this.#status === "T" && typeof (error as { code?: unknown }).code === "string") this.#status = "E";
      if (name !== undefined) this.#failed((first as { text: string }).text, name, error);
    };
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (error: Error | null, result: unknown) => {
        failed(error);
        (last as (e: Error | null, r: unknown) => void)(error, error ? result : nameAsText(result));
      };
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args);
    if (returned && typeof (returned as Promise<unknown>).then === "function") {
      return (returned as Promise<unknown>).then(nameAsText, (error: unknown) => {
        failed(error);
        throw error;
      }) as never;
    }
    return returned as never;
  }
}

/**
 * The configuration of a pool on `connectionString` whose clients count their queries. Handed to
 * PrismaPg as configuration (not as a pool) so the adapter owns the pool: it handles idle clients'
 * errors (a database restart) and closes the pool on $disconnect.
 */
export function poolConfig(connectionString: string, options: pg.PoolConfig = {}): pg.PoolConfig {
  // pg-pool hands its whole configuration to each client it opens.
  return { connectionString, Client: CountingClient, kipStatementCacheSize: cacheSizeOf(connectionString), ...options } as pg.PoolConfig;
}
