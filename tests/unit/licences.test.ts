// Pure pieces of licensed downloads: the Range header parser, and the hashes a version commits to on chain
// (checked against the Solidity encoding they must reproduce: keccak256(abi.encode(FileEntry[]))).
import { createHash } from "node:crypto";
import { encodeAbiParameters, keccak256, toBytes } from "viem";
import { describe, expect, it } from "vitest";
import { licenceFilesHash, licenceTermsHash, sha256OfBytes } from "@/lib/licences/hash";
import { parseRange } from "@/lib/licences/range";

describe("parseRange", () => {
  const size = 1000;
  it.each([
    [null, { kind: "full" }],
    ["bytes=0-99", { kind: "partial", start: 0, end: 99 }],
    ["bytes=900-", { kind: "partial", start: 900, end: 999 }],
    ["bytes=900-5000", { kind: "partial", start: 900, end: 999 }],
    ["bytes=-10", { kind: "partial", start: 990, end: 999 }],
    ["bytes=-5000", { kind: "partial", start: 0, end: 999 }],
    ["bytes=1000-", { kind: "unsatisfiable" }],
    ["bytes=-0", { kind: "unsatisfiable" }],
    // Ignored (the whole file is sent): malformed, reversed, another unit, several ranges.
    ["bytes=50-10", { kind: "full" }],
    ["bytes=abc", { kind: "full" }],
    ["items=0-1", { kind: "full" }],
    ["bytes=0-1,5-6", { kind: "full" }],
    ["bytes=-", { kind: "full" }],
  ])("%s", (header, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it("an empty file has no satisfiable range", () => {
    expect(parseRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-1", 0)).toEqual({ kind: "unsatisfiable" });
  });
});

describe("licence hashes", () => {
  const files = [
    { path: "weights.bin", size: 1024, sha256: createHash("sha256").update("a").digest("hex") },
    { path: "README.md", size: 3, sha256: createHash("sha256").update("b").digest("hex") },
  ];

  it("hashes the file list as abi.encode(FileEntry[]) would", () => {
    const reference = keccak256(
      encodeAbiParameters(
        [{ type: "tuple[]", components: [{ type: "string" }, { type: "uint256" }, { type: "bytes32" }] }],
        [files.map((f) => [f.path, BigInt(f.size), `0x${f.sha256}`] as const)],
      ),
    );
    expect(licenceFilesHash(files)).toBe(reference);
    expect(licenceFilesHash(files.map((f) => ({ ...f, sha256: `0x${f.sha256.toUpperCase()}` })))).toBe(reference);
  });

  it("changes with any name, size, hash or order", () => {
    const base = licenceFilesHash(files);
    expect(licenceFilesHash([{ ...files[0], path: "weights2.bin" }, files[1]])).not.toBe(base);
    expect(licenceFilesHash([{ ...files[0], size: 1025 }, files[1]])).not.toBe(base);
    expect(licenceFilesHash([files[0], { ...files[1], sha256: files[0].sha256 }])).not.toBe(base);
    expect(licenceFilesHash([files[1], files[0]])).not.toBe(base);
    expect(() => licenceFilesHash([{ ...files[0], sha256: "nothex" }])).toThrow(/not a SHA-256/);
  });

  it("hashes terms as keccak256 of their UTF-8 bytes, and bytes with Web Crypto's SHA-256", async () => {
    expect(licenceTermsHash("Licence – é")).toBe(keccak256(toBytes("Licence – é")));
    const bytes = new TextEncoder().encode("hello");
    expect(await sha256OfBytes(bytes)).toBe(createHash("sha256").update("hello").digest("hex"));
  });
});
