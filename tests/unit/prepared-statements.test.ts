// Long statements are prepared once per connection (lib/db-pool.ts), on a real PostgreSQL through Prisma:
// each statement's name is checked in pg_prepared_statements on the connection that ran it (a
// transaction keeps every query on one connection).
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "@/lib/db-client";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { databaseRoundTrips, poolConfig } from "@/lib/db-pool";
import { databaseUrlProblem, statementCacheSize } from "@/lib/db-url";
import { Prisma, PrismaClient } from "@/lib/generated/prisma/client";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";

let server: PostgresHandle;
const clients: Db[] = [];

function client(params = ""): Db {
  const url = new URL(server.url);
  for (const [key, value] of new URLSearchParams(params)) url.searchParams.set(key, value);
  const db = createDb(url.toString());
  clients.push(db);
  return db;
}

/** A statement with a parameter, told apart by `tag`, returning its parameter. */
function tagged(tag: string, value: number): Prisma.Sql {
  return Prisma.sql`SELECT ${value}::int AS "value" ${Prisma.raw(`/* ${tag} */`)}`;
}

/** Statements prepared on the transaction's connection, by their text's tag. */
async function preparedTags(tx: Prisma.TransactionClient): Promise<string[]> {
  const rows = await tx.$queryRaw<{ statement: string }[]>`SELECT "statement" FROM pg_prepared_statements`;
  return rows.map((r) => /\/\* (\S+) \*\//.exec(r.statement)?.[1]).filter((t): t is string => t !== undefined).sort();
}

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-prepared-");
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((db) => db.$disconnect()));
  await server?.stop();
});

describe("prepared statements", () => {
  it("prepares a statement once per connection and runs it again by name with new values", async () => {
    const db = client();
    const tags = await db.$transaction(async (tx) => {
      const first = await tx.$queryRaw<{ value: number }[]>(tagged("alpha", 1));
      const second = await tx.$queryRaw<{ value: number }[]>(tagged("alpha", 2));
      await tx.$queryRaw(tagged("beta", 3));
      expect([first[0].value, second[0].value]).toEqual([1, 2]);
      return preparedTags(tx);
    });
    // One named statement for alpha's two runs. (The reading of pg_prepared_statements has no parameters:
    // it runs unnamed.)
    expect(tags).toEqual(["alpha", "beta"]);
  });

  it("keeps the statement_cache_size statements a connection used last, deallocating the oldest", async () => {
    const db = client("statement_cache_size=2");
    const tags = await db.$transaction(async (tx) => {
      for (const [i, tag] of ["one", "two", "three", "one"].entries()) {
        const [row] = await tx.$queryRaw<{ value: number }[]>(tagged(tag, i));
        expect(row.value).toBe(i);
      }
      return preparedTags(tx);
    });
    // one, two; three takes one's room; one comes back in two's.
    expect(tags).toEqual(["one", "three"]);
  });

  it("runs a query queued with a statement's name before that statement is deallocated for another", async () => {
    // pg directly (Prisma sends one query at a time per connection): queries queue on a busy client.
    const pool = new pg.Pool(poolConfig(`${server.url}${server.url.includes("?") ? "&" : "?"}statement_cache_size=1`, { max: 1 }));
    try {
      const db = await pool.connect();
      try {
        const a = (n: number) => db.query<{ value: number }>({ text: "SELECT $1::int AS value /* a */", values: [n] });
        const b = (n: number) => db.query<{ value: number }>({ text: "SELECT $1::int AS value /* b */", values: [n] });
        await a(1);
        // While the client is busy: a's statement is used again, then b needs its room.
        const results = await Promise.all([db.query("SELECT pg_sleep(0.05)"), a(2), b(3), a(4)]);
        expect(results.slice(1).map((r) => r.rows[0].value)).toEqual([2, 3, 4]);
        const left = await db.query<{ statement: string }>("SELECT statement FROM pg_prepared_statements");
        expect(left.rows.map((r) => r.statement)).toEqual(["SELECT $1::int AS value /* a */"]);
      } finally {
        db.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("prepares nothing with statement_cache_size=0 or pgbouncer=true", async () => {
    for (const params of ["statement_cache_size=0", "pgbouncer=true"]) {
      const tags = await client(params).$transaction(async (tx) => {
        await tx.$queryRaw(tagged("off", 1));
        await tx.$queryRaw(tagged("off", 2));
        return preparedTags(tx);
      });
      expect(tags, params).toEqual([]);
    }
  });

  it("after a migration changes a prepared statement's columns, fails that run once and prepares it anew", async () => {
    const db = client();
    await db.$executeRawUnsafe(`CREATE TABLE "Widen" ("a" int)`);
    await db.$executeRawUnsafe(`INSERT INTO "Widen" VALUES (1)`);
    const select = (n: number) => Prisma.sql`SELECT * FROM "Widen" WHERE "a" = ${n}::int`;
    // One connection throughout: a pool of one. In a transaction, so that the failure does not close the
    // connection (a failed query outside one gives its connection up, and its statements with it).
    const single = new PrismaClient({ adapter: new PrismaPg(poolConfig(server.url, { max: 1 })) });
    clients.push(single);
    const run = () => single.$transaction((tx) => tx.$queryRaw(select(1)));
    expect(await run()).toEqual([{ a: 1 }]);
    await db.$executeRawUnsafe(`ALTER TABLE "Widen" ADD COLUMN "b" int DEFAULT 7`);
    await expect(run()).rejects.toThrow(/cached plan must not change result type/);
    // The connection forgot the stale name: the next run prepares the statement again and sees the new column.
    expect(await run()).toEqual([{ a: 1, b: 7 }]);
    expect(await run()).toEqual([{ a: 1, b: 7 }]);
  });

  it("after the server drops its prepared statements (DEALLOCATE ALL, as a pooler may), fails once and prepares anew", async () => {
    const single = new PrismaClient({ adapter: new PrismaPg(poolConfig(server.url, { max: 1 })) });
    clients.push(single);
    const run = (n: number) => single.$transaction((tx) => tx.$queryRaw<{ value: number }[]>(tagged("dropped", n)));
    expect(await run(1)).toEqual([{ value: 1 }]);
    await single.$transaction((tx) => tx.$executeRawUnsafe("DEALLOCATE ALL"));
    await expect(run(2)).rejects.toThrow(/does not exist/);
    expect(await run(3)).toEqual([{ value: 3 }]);
    expect(await run(4)).toEqual([{ value: 4 }]);
  });

  it("after a migration changes a parameter's column type, fails that run once and prepares it anew", async () => {
    const db = client();
    await db.$executeRawUnsafe(`CREATE TABLE "Retype" ("a" int)`);
    const single = new PrismaClient({ adapter: new PrismaPg(poolConfig(server.url, { max: 1 })) });
    clients.push(single);
    // The parameter's type is inferred from the column when the statement is prepared: int, here.
    const count = (v: number) => single.$transaction((tx) => tx.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Retype" WHERE "a" = ${v}`);
    expect(await count(1)).toEqual([{ n: 0 }]);
    await db.$executeRawUnsafe(`ALTER TABLE "Retype" ALTER COLUMN "a" TYPE numeric(12,2)`);
    await db.$executeRawUnsafe(`INSERT INTO "Retype" VALUES (1.5)`);
    await expect(count(1.5)).rejects.toThrow(/invalid input syntax for type integer/);
    expect(await count(1.5)).toEqual([{ n: 1 }]);
  });

  it("keeps a statement after an error that says nothing about it (a unique violation)", async () => {
    const db = client();
    await db.$executeRawUnsafe(`CREATE TABLE "Once" ("id" int PRIMARY KEY)`);
    const single = new PrismaClient({ adapter: new PrismaPg(poolConfig(server.url, { max: 1 })) });
    clients.push(single);
    const insert = (id: number) => single.$transaction((tx) => tx.$executeRaw`INSERT INTO "Once" ("id") VALUES (${id}::int)`);
    await insert(1);
    await expect(insert(1)).rejects.toThrow(/Unique constraint|unique|Once_pkey/i);
    await insert(2);
    const names = await single.$transaction((tx) => tx.$queryRaw<{ name: string }[]>`SELECT "name" FROM pg_prepared_statements WHERE "statement" LIKE '%INTO "Once"%'`);
    expect(names).toHaveLength(1);
  });

  it("names a statement by its text's hash and a number, so one name never means two statements", async () => {
    const rows = await client().$transaction(async (tx) => {
      await tx.$queryRaw(tagged("first", 1));
      await tx.$queryRaw(tagged("second", 2));
      return tx.$queryRaw<{ name: string; statement: string }[]>`SELECT "name", "statement" FROM pg_prepared_statements`;
    });
    expect(rows).toHaveLength(2);
    for (const { name, statement } of rows) {
      const hash = crypto.createHash("sha256").update(statement).digest("hex").slice(0, 24);
      expect(name).toMatch(new RegExp(`^kip_${hash}_\\d+$`));
    }
  });

  it("drops a statement that failed in a transaction once the transaction is over, and goes on naming", async () => {
    const single = new PrismaClient({ adapter: new PrismaPg(poolConfig(`${server.url}${server.url.includes("?") ? "&" : "?"}statement_cache_size=2`, { max: 1 })) });
    clients.push(single);
    // Each fails in a transaction (class 22: a value that is no integer) after its statement was parsed.
    for (const bad of ["x", "y", "z"]) {
      await expect(single.$transaction((tx) => tx.$queryRaw`SELECT ${bad}::int AS "n" /* bad ${Prisma.raw(bad)} */`)).rejects.toThrow(/invalid input syntax/);
    }
    const tags = await single.$transaction(async (tx) => {
      await tx.$queryRaw(tagged("after", 1));
      return preparedTags(tx);
    });
    // The failed ones were deallocated, none is left behind, and the connection still names statements.
    expect(tags).toEqual(["after"]);
    const left = await single.$transaction((tx) => tx.$queryRaw<{ statement: string }[]>`SELECT "statement" FROM pg_prepared_statements`);
    expect(left.map((r) => r.statement).filter((t) => t.includes("bad"))).toEqual([]);
  });

  it("waits for a failed transaction to end before deallocating, then deallocates", async () => {
    const pool = new pg.Pool(poolConfig(server.url, { max: 1 }));
    try {
      const db = await pool.connect();
      try {
        await db.query("BEGIN");
        await expect(db.query({ text: "SELECT $1::int AS n /* stale */", values: ["nope"] })).rejects.toThrow(/invalid input syntax/);
        // In the failed transaction a DEALLOCATE would fail too: nothing is sent but what the caller sends.
        const before = databaseRoundTrips();
        await expect(db.query("SELECT 1")).rejects.toThrow(/current transaction is aborted/);
        expect(databaseRoundTrips() - before).toBe(1);
        await db.query("ROLLBACK");
        const left = await db.query<{ statement: string }>("SELECT statement FROM pg_prepared_statements");
        expect(left.rows).toEqual([]);
      } finally {
        db.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("reads statement_cache_size from DATABASE_URL, and refuses one that is not a whole number", () => {
    expect(statementCacheSize("postgres://u@h/db")).toBe(100);
    expect(statementCacheSize("postgres://u@h/db?statement_cache_size=7")).toBe(7);
    expect(statementCacheSize("postgres://u@h/db?pgbouncer=true")).toBe(0);
    expect(statementCacheSize("postgres://u@h/db?statement_cache_size=many")).toBeNull();
    expect(databaseUrlProblem("postgres://u@h/db?statement_cache_size=-1")).toMatch(/statement_cache_size must be a whole number/);
    expect(databaseUrlProblem("postgres://u@h/db?statement_cache_size=16")).toBeNull();
  });
});
