// The start script's database faults, each with a message that says what to do and nothing deleted.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkDatabaseUrl, startEmbeddedPostgres } from "../../scripts/stack/postgres";
import { withoutGeneratedDefaults } from "../../scripts/stack/db";
import { freePort } from "../../scripts/stack/process";

describe("the embedded PostgreSQL launcher", () => {
  it("refuses a data directory from another major version and leaves it as it was", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-pg-version-"));
    try {
      fs.writeFileSync(path.join(dir, "PG_VERSION"), "16\n");
      fs.writeFileSync(path.join(dir, "postgresql.conf"), "# a PostgreSQL 16 cluster\n");
      await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/holds a PostgreSQL 16 database.*PostgreSQL 17.*Nothing was changed/);
      expect(fs.readdirSync(dir).sort()).toEqual(["PG_VERSION", "postgresql.conf"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names DATABASE_URL and the address it tried when nothing answers there", async () => {
    const port = await freePort();
    await expect(checkDatabaseUrl(`postgres://kip:secret@127.0.0.1:${port}/kip`)).rejects.toThrow(
      new RegExp(`^DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}/kip \\(.*ECONNREFUSED`),
    );
    await expect(checkDatabaseUrl(`postgres://kip:secret@127.0.0.1:${port}/kip`)).rejects.not.toThrow(/secret/);
  });

  it("chooses a free port, and says so, when the one asked for is taken", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const taken = (busy.address() as net.AddressInfo).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-pg-port-"));
    const lines: string[] = [];
    try {
      const server = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg"), port: taken, log: (line) => lines.push(line) });
      try {
        expect(server.port).not.toBe(taken);
        expect(lines.join("\n")).toContain(`port ${taken} is in use: embedded PostgreSQL listens on ${server.port} instead`);
        expect(new URL(server.url).port).toBe(String(server.port));
      } finally {
        await server.stop();
      }
    } finally {
      busy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("free ports for the stack's servers", () => {
  it("hands out distinct ports a server can listen on, below the range outgoing connections take theirs from", async () => {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) expect(port).toBeLessThan(low);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(ports[0], () => resolve()));
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("new migrations", () => {
  it("leave out the DROP DEFAULT Prisma writes for a column the database generates, and nothing else", () => {
    expect(withoutGeneratedDefaults(`-- AlterTable\nALTER TABLE "Receipt" ALTER COLUMN "seqNumber" DROP DEFAULT;\n`).trim()).toBe("");
    expect(withoutGeneratedDefaults(`-- AlterTable\nALTER TABLE "Receipt" ADD COLUMN "note" TEXT,\nALTER COLUMN "seqNumber" DROP DEFAULT;\n`)).toBe(`-- AlterTable\nALTER TABLE "Receipt" ADD COLUMN "note" TEXT;\n`);
    const other = `-- AlterTable\nALTER TABLE "Listing" ALTER COLUMN "seqNumber" DROP DEFAULT;\n`;
    expect(withoutGeneratedDefaults(other)).toBe(other);
  });
});
