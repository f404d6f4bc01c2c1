// The committed migrations must build exactly the database that prisma/schema.prisma describes
// (migrations are written offline as datamodel diffs, so a missed or clobbering migration would
// otherwise only show up on a user's machine).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";

const prisma = path.resolve("node_modules/.bin/prisma");

function describeDatabase(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_prisma_migrations' ORDER BY name")
      .all() as { name: string }[];
    return Object.fromEntries(
      tables.map(({ name }) => [
        name,
        {
          columns: db.prepare(`PRAGMA table_info("${name}")`).all(),
          foreignKeys: (db.prepare(`PRAGMA foreign_key_list("${name}")`).all() as Record<string, unknown>[]).map((fk) => ({
            table: fk.table,
            from: fk.from,
            to: fk.to,
            onUpdate: fk.on_update,
            onDelete: fk.on_delete,
          })),
          indexes: (db.prepare(`PRAGMA index_list("${name}")`).all() as { name: string; unique: number }[])
            .map((index) => ({
              name: index.name,
              unique: index.unique,
              columns: (db.prepare(`PRAGMA index_info("${index.name}")`).all() as { name: string }[]).map((c) => c.name),
            }))
            .sort((a, b) => a.name.localeCompare(b.name)),
        },
      ]),
    );
  } finally {
    db.close();
  }
}

describe("migrations", () => {
  it("produce exactly the schema in prisma/schema.prisma", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-migrations-"));
    const migrated = path.join(dir, "migrated.db");
    const scratch = path.join(dir, "scratch.db");
    const run = (args: string[], file: string) =>
      execFileSync(prisma, args, { env: { ...process.env, DATABASE_URL: `file:${file}` }, stdio: "pipe", timeout: 30_000 }).toString();
    run(["migrate", "deploy"], migrated);
    // The schema built from scratch: Prisma's own SQL for the datamodel, applied to an empty file.
    const fromScratch = run(["migrate", "diff", "--from-empty", "--to-schema-datamodel", "prisma/schema.prisma", "--script"], scratch);
    const db = new Database(scratch);
    db.exec(fromScratch);
    db.close();
    expect(describeDatabase(migrated)).toEqual(describeDatabase(scratch));
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
