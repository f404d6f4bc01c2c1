// The committed migrations must build exactly the database that prisma/schema.prisma describes
// (migrations are written offline as datamodel diffs, so a missed or clobbering migration would
// otherwise only show up on a user's machine). Both are built on a real PostgreSQL and compared
// through its catalogs.
import { execFileSync } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";

const prisma = path.resolve("node_modules/.bin/prisma");
let server: PostgresHandle;

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-migrations-");
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

function databaseUrl(name: string): string {
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function describeDatabase(url: string) {
  return withClient(url, async (client) => {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY table_name, column_name`,
    );
    const constraints = await client.query(
      `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE '%_prisma_migrations%' ORDER BY 1, 2`,
    );
    const indexes = await client.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1, 2`,
    );
    return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
  });
}

describe("migrations", () => {
  it("produce exactly the schema in prisma/schema.prisma", async () => {
    await withClient(server.url, async (client) => {
      await client.query(`CREATE DATABASE migrated`);
      await client.query(`CREATE DATABASE scratch`);
    });
    const run = (args: string[], url: string) =>
      execFileSync(prisma, args, { env: { ...process.env, DATABASE_URL: url }, stdio: "pipe", timeout: 60_000 }).toString();
    run(["migrate", "deploy"], databaseUrl("migrated"));
    // The schema built from scratch: Prisma's own SQL for the datamodel, applied to an empty database.
    const fromScratch = run(["migrate", "diff", "--from-empty", "--to-schema-datamodel", "prisma/schema.prisma", "--script"], databaseUrl("scratch"));
    await withClient(databaseUrl("scratch"), (client) => client.query(fromScratch));
    const migrated = await describeDatabase(databaseUrl("migrated"));
    expect(migrated.columns.length).toBeGreaterThan(50);
    expect(migrated).toEqual(await describeDatabase(databaseUrl("scratch")));
  }, 90_000);
});
