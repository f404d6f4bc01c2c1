import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { keccak256, toBytes } from "viem";
import { describe, expect, it } from "vitest";
import { buildSlotMetadata, listingMetadataUri } from "@/lib/listings/metadata";
import { databaseUrlProblem, describeDatabaseUrl } from "@/lib/db-url";
import { socketDirFor } from "../../scripts/stack/postgres";
import { loadOrCreateSecrets } from "@/scripts/stack/secrets";

describe("slot metadata", () => {
  it("commits to the exact JSON bytes it serves", () => {
    const { json, contentHash } = buildSlotMetadata({
      listingId: "abc",
      kind: "dataset",
      name: "N",
      description: "D",
      creator: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      properties: { license: "Public domain" },
    });
    expect(keccak256(toBytes(json))).toBe(contentHash);
    expect(JSON.parse(json)).toMatchObject({ name: "N", properties: { kind: "dataset", license: "Public domain" } });
    expect(listingMetadataUri("http://localhost:3000/", "abc")).toBe("http://localhost:3000/api/metadata/listings/abc");
  });
});

describe("DATABASE_URL", () => {
  it("accepts PostgreSQL URLs only, and is described without its password", () => {
    expect(databaseUrlProblem("postgres://kip:secret@db.internal:6543/kip")).toBeNull();
    expect(databaseUrlProblem("postgresql://localhost/kip")).toBeNull();
    expect(databaseUrlProblem("file:./data/kip.db")).toMatch(/PostgreSQL URL.*kip\.db SQLite file is not used/);
    expect(databaseUrlProblem("not a url")).toMatch(/PostgreSQL URL/);
    expect(describeDatabaseUrl("postgres://kip:secret@db.internal:6543/kip")).toBe("db.internal:6543/kip");
    expect(describeDatabaseUrl("postgres://kip:secret@db.internal/kip")).not.toContain("secret");
    // The embedded server's URL: a Unix socket in its data directory.
    const socketUrl = "postgres://postgres:kip-local@localhost:54321/kip?host=%2Fhome%2Fme%2Fkip%2Fdata%2Fpg";
    expect(databaseUrlProblem(socketUrl)).toBeNull();
    expect(describeDatabaseUrl(socketUrl)).toBe("/home/me/kip/data/pg/.s.PGSQL.54321/kip");
  });

  it("reaches the embedded server through a socket in its data directory unless that path is too long for one", () => {
    expect(socketDirFor("/home/me/kip/data/pg", 54321)).toBe("/home/me/kip/data/pg");
    expect(socketDirFor(`/home/me/${"deep/".repeat(20)}data/pg`, 54321)).toBeNull();
  });
});

describe("local secrets", () => {
  it("are generated once with private permissions and then re-used", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-secrets-"));
    const first = loadOrCreateSecrets(dir);
    expect(first.SESSION_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(first.ENCRYPTION_KEY).toMatch(/^0x[0-9a-f]{64}$/);
    expect(fs.statSync(path.join(dir, "secrets.json")).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecrets(dir)).toEqual(first);
    fs.rmSync(dir, { recursive: true });
  });
});
