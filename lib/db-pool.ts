// The PostgreSQL connection pool configuration under the Prisma client (lib/db-client.ts) and the Prisma CLI
// (prisma.config.ts). No Prisma import here: prisma.config.ts loads this before the client is generated.
//
// Every query a client sends is one round trip to the server (transactions' BEGIN and COMMIT included),
// and is counted, so the benchmark can report the database round trips per paid message.
import pg from "pg";

// On globalThis: bundled route handlers may each hold their own copy of this module.
const counter = globalThis as unknown as { kipDatabaseRoundTrips?: number };

/** Queries sent to PostgreSQL by this process so far. */
export function databaseRoundTrips(): number {
  return counter.kipDatabaseRoundTrips ?? 0;
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

class CountingClient extends pg.Client {
  // pg's query() has many overloads (promise, callback, submittable); each call is one round trip.
  query(...args: unknown[]): never {
    counter.kipDatabaseRoundTrips = (counter.kipDatabaseRoundTrips ?? 0) + 1;
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (error: Error | null, result: unknown) => (last as (e: Error | null, r: unknown) => void)(error, error ? result : nameAsText(result));
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args);
    if (returned && typeof (returned as Promise<unknown>).then === "function") return (returned as Promise<unknown>).then(nameAsText) as never;
    return returned as never;
  }
}

/**
 * The configuration of a pool on `connectionString` whose clients count their queries. Handed to
 * PrismaPg as configuration (not as a pool) so the adapter owns the pool: it handles idle clients'
 * errors (a database restart) and closes the pool on $disconnect.
 */
export function poolConfig(connectionString: string, options: pg.PoolConfig = {}): pg.PoolConfig {
  return { connectionString, Client: CountingClient, ...options };
}
