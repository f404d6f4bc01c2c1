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
  it("round-trips a stored document, bound to its dataset, hash and packing", async () => {
    const { decryptDocument, sealDocument, sha256Hex } = await import("@/lib/rag/ingest");
    const original = Buffer.from("Four score and seven years ago — «unicode» ✓ ".repeat(40), "utf8");
    const sha256 = sha256Hex(original);
    const sealed = sealDocument("dataset-1", { content: original, sha256 }, key);
    // Text is packed before it is encrypted: what is stored is smaller than the file, and unreadable.
    expect(sealed.contentEncoding).toBe("deflate");
    expect(sealed.content.byteLength).toBeLessThan(original.byteLength / 4);
    expect(sealed.content.includes(Buffer.from("Four score"))).toBe(false);
    const stored = { datasetId: "dataset-1", sha256, bytes: original.byteLength, ...sealed };
    expect(decryptDocument(stored, key).equals(original)).toBe(true);
    // Moved to another dataset, claimed to be another file, or claimed to be stored unpacked: refused.
    expect(() => decryptDocument({ ...stored, datasetId: "dataset-2" }, key)).toThrow(/tampered/);
    expect(() => decryptDocument({ ...stored, sha256: sha256Hex("other") }, key)).toThrow(/tampered/);
    expect(() => decryptDocument({ ...stored, contentEncoding: "identity" }, key)).toThrow(/tampered/);
    expect(() => decryptDocument({ ...stored, contentEncoding: "gzip" }, key)).toThrow(/unknown document encoding/);
    // A size that does not match what it unpacks to is an error, not a short or long file.
    expect(() => decryptDocument({ ...stored, bytes: original.byteLength - 1 }, key)).toThrow();
    expect(() => decryptDocument({ ...stored, bytes: original.byteLength + 1 }, key)).toThrow(/unpacks to/);
  });

  it("stores a file that does not pack smaller as it is", async () => {
    const { decryptDocument, sealDocument, sha256Hex } = await import("@/lib/rag/ingest");
    const noise = randomBytes(4096);
    const sealed = sealDocument("dataset-1", { content: noise, sha256: sha256Hex(noise) }, key);
    expect(sealed.contentEncoding).toBe("identity");
    expect(decryptDocument({ datasetId: "dataset-1", sha256: sha256Hex(noise), bytes: noise.byteLength, ...sealed }, key).equals(noise)).toBe(true);
  });
});
