// Pure pieces of licensed downloads: the Range header parser, and the hashes a version commits to on chain
// (checked against the Solidity encoding they must reproduce: keccak256(abi.encode(FileEntry[]))).
import { createHash } from "node:crypto";
import { encodeAbiParameters, keccak256, toBytes } from "viem";
import { describe, expect, it } from "vitest";
import { licenceFilesHash, licenceTermsHash, sha256OfBytes } from "@/lib/licences/hash";
import { licencePathKey, licencePathProblem } from "@/lib/licences/paths";
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

// Fixed vectors shared with contracts/test/KipLicences.t.sol (test_hashFiles_MatchesTheServersVectors): the
// server's licenceFilesHash and the contract's hashFiles must give these same constants.
describe("licenceFilesHash agrees with KipLicences.hashFiles", () => {
  const a = createHash("sha256").update("a").digest("hex");
  const b = createHash("sha256").update("b").digest("hex");
  it.each([
    ["no files", [], "0x569e75fc77c1a856f6daaf9e69d8a9566ca34aa47f9133711ce065a571af0cfd"],
    ["two files", [{ path: "weights.bin", size: 1024, sha256: a }, { path: "README.md", size: 3, sha256: b }], "0x2fd89e2dac75b18da65b45b1ce08de3d7c3cd9cd82ddf840b7ec18e7da4663ef"],
    [
      "non-ASCII paths (UTF-8)",
      [{ path: "données/модель-权重.bin", size: 3158073, sha256: a }, { path: "café.txt", size: 0, sha256: `0x${b.toUpperCase()}` }],
      "0xd04fe40a69d7e6467bd2f0090441ab5321a9a8c187ee36ccf60e5c30afb5a33c",
    ],
  ])("%s", (_name, files, expected) => {
    expect(licenceFilesHash(files)).toBe(expected);
  });
});

describe("licencePathProblem (the rules for every effective file name)", () => {
  it.each(["weights.bin", "dir/sub/file.txt", "données/модель-权重.bin", "a b.txt", "..hidden", "x..y"])("accepts %j", (p) => {
    expect(licencePathProblem(p)).toBeNull();
  });
  it.each([
    "", "/abs", "../x", "a/../../x", "a//b", "a/./b", "a/", "dir\\file", "bell\u0007", "tab\tname", "del\u007f",
    "rtl\u202Egnp.exe", "zero\u200Bwidth", "bom\uFEFF.txt", "x".repeat(201),
  ])("refuses %j", (p) => {
    expect(licencePathProblem(p)).not.toBeNull();
  });
  it("compares names ignoring case and Unicode normalisation", () => {
    expect(licencePathKey("README.md")).toBe(licencePathKey("readme.MD"));
    expect(licencePathKey("caf\u00e9")).toBe(licencePathKey("cafe\u0301"));
  });
});
