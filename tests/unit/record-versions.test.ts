// A query's record hash binds the dataset versions its passages came from; records of queries without
// versions (answered before datasets had versions) keep the hash they were settled with.
import { encodeAbiParameters, keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { datasetVersionsOf, recordHash } from "@/lib/protocol";

const base = { id: "m1", question: "q", answer: "a", passages: ["c1", "c2"] };

describe("record hash and dataset versions", () => {
  it("hashes the first four fields alone when no version is named", () => {
    const old = keccak256(encodeAbiParameters([{ type: "string" }, { type: "string" }, { type: "string" }, { type: "string[]" }], ["m1", "q", "a", ["c1", "c2"]]));
    expect(recordHash(base)).toBe(old);
    expect(recordHash({ ...base, datasetVersions: [] })).toBe(old);
  });

  it("binds each dataset's version: another version is another record", () => {
    const v2 = recordHash({ ...base, datasetVersions: [{ dataset: "ds1", version: 2 }] });
    expect(v2).not.toBe(recordHash(base));
    expect(v2).not.toBe(recordHash({ ...base, datasetVersions: [{ dataset: "ds1", version: 3 }] }));
    expect(v2).not.toBe(recordHash({ ...base, datasetVersions: [{ dataset: "ds2", version: 2 }] }));
  });

  it("names one version per dataset, sorted by dataset id, from the passages shown", () => {
    const passages = [
      { datasetId: "b", datasetVersion: 4 },
      { datasetId: "a", datasetVersion: 1 },
      { datasetId: "b", datasetVersion: 4 },
      { datasetId: "c" },
    ];
    expect(datasetVersionsOf(passages)).toEqual([
      { dataset: "a", version: 1 },
      { dataset: "b", version: 4 },
    ]);
  });
});
