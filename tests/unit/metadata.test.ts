import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { keccak256, toBytes } from "viem";
import { describe, expect, it } from "vitest";
import { buildSlotMetadata, listingMetadataUri } from "@/lib/listings/metadata";
import { databaseFilePath } from "@/lib/db-path";
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

describe("databaseFilePath", () => {
  it("resolves relative SQLite URLs and rejects other schemes", () => {
    expect(databaseFilePath("file:/tmp/x.db")).toBe("/tmp/x.db");
    expect(databaseFilePath("file:./data/kip.db")).toBe(path.resolve("data/kip.db"));
    expect(() => databaseFilePath("postgres://x")).toThrow(/DATABASE_URL/);
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
