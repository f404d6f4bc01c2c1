import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptBytes, decryptString, encryptBytes, encryptString } from "@/lib/crypto";

const key = `0x${randomBytes(32).toString("hex")}`;
const otherKey = `0x${randomBytes(32).toString("hex")}`;

describe("AES-256-GCM at rest", () => {
  it("round-trips strings and bytes, with a fresh IV each time", () => {
    const sealed = encryptString("sk-secret-api-key", key, "model:abc");
    expect(sealed).not.toContain("sk-secret");
    expect(decryptString(sealed, key, "model:abc")).toBe("sk-secret-api-key");
    expect(encryptString("same", key)).not.toBe(encryptString("same", key));
    const blob = randomBytes(1000);
    expect(decryptBytes(encryptBytes(blob, key), key).equals(blob)).toBe(true);
  });

  it("fails on a wrong key, other associated data, or tampering", () => {
    const sealed = encryptString("secret", key, "model:abc");
    expect(() => decryptString(sealed, otherKey, "model:abc")).toThrow(/wrong ENCRYPTION_KEY or tampered/);
    expect(() => decryptString(sealed, key, "model:xyz")).toThrow(/tampered/);
    const bytes = encryptBytes(Buffer.from("hello"), key);
    bytes[bytes.length - 1] ^= 1;
    expect(() => decryptBytes(bytes, key)).toThrow(/tampered/);
    expect(() => decryptBytes(new Uint8Array(5), key)).toThrow(/truncated/);
    expect(() => encryptString("x", "0x1234")).toThrow(/ENCRYPTION_KEY/);
  });
});

describe("dataset files at rest", () => {
  it("round-trips a stored document, bound to its dataset and hash", async () => {
    const { decryptDocument } = await import("@/lib/rag/ingest");
    const { sha256Hex } = await import("@/lib/rag/ingest");
    const original = Buffer.from("Four score and seven years ago — «unicode» ✓", "utf8");
    const sha256 = sha256Hex(original);
    // storeDocuments seals with the same associated data decryptDocument checks.
    const sealed = encryptBytes(original, key, `kip-document:dataset-1:${sha256}`);
    expect(sealed.includes(original)).toBe(false);
    expect(decryptDocument({ datasetId: "dataset-1", sha256, content: sealed }, key).equals(original)).toBe(true);
    // Moved to another dataset, or claimed to be another file: refused.
    expect(() => decryptDocument({ datasetId: "dataset-2", sha256, content: sealed }, key)).toThrow(/tampered/);
    expect(() => decryptDocument({ datasetId: "dataset-1", sha256: sha256Hex("other"), content: sealed }, key)).toThrow(/tampered/);
  });
});
