// The server's keccak256 (the native binding, lib/chat/keccak.ts) against viem's, and the voucher digest
// (EIP-712 over fixed words, lib/protocol/voucher.ts) against viem's hashTypedData, the reference: the
// same bytes for every input, and the same refusals for every malformed voucher.
import { describe, expect, it } from "vitest";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { nativeKeccak, serverKeccak } from "@/lib/chat/keccak";
import { chargesHash, nextVoucherFields, recordHash, viemKeccak256, voucherDigest, voucherDigestReference, type Voucher } from "@/lib/protocol";

/** Deterministic bytes per index and length (a failure names its case). */
function bytesOf(i: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let seed = i * 2654435761 + length;
  for (let j = 0; j < length; j++) out[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

const word = (i: number, salt: string) => keccak256(toHex(`${salt} ${i}`));

function voucher(i: number): Voucher {
  const big = BigInt(word(i, "n"));
  return {
    session: word(i, "session"),
    // Small, large and the extremes of uint256.
    seq: i % 5 === 0 ? 0n : i % 5 === 1 ? (1n << 256n) - 1n : BigInt(i),
    issuedAt: BigInt(1_700_000_000 + i),
    cumulativeMax: i % 3 === 0 ? big : big >> BigInt(i % 200),
    charges: word(i, "charges"),
  };
}

const contexts: { chainId: number; settlement: Address }[] = [
  { chainId: 31337, settlement: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
  { chainId: 8453, settlement: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" },
  { chainId: 1, settlement: "0x5fbdb2315678afecb367f032d93f642f64180aa3" },
];

describe("the server's keccak256", () => {
  it("uses the native binding on this platform", async () => {
    expect(await nativeKeccak()).toBe(true);
  });

  it("hashes like viem at every length around the sponge's rate (136 bytes) and beyond", async () => {
    const native = await serverKeccak();
    for (let length = 0; length <= 600; length++) {
      const data = bytesOf(length, length);
      expect(toHex(native(data)), `length ${length}`).toBe(toHex(viemKeccak256(data)));
    }
    for (const length of [1_000, 4_096, 65_537]) expect(toHex(native(bytesOf(7, length)))).toBe(toHex(viemKeccak256(bytesOf(7, length))));
    // A view into a larger buffer hashes only its own bytes.
    const whole = bytesOf(3, 300);
    expect(toHex(native(whole.subarray(100, 200)))).toBe(toHex(viemKeccak256(whole.slice(100, 200))));
  });
});

describe("voucherDigest", () => {
  it("is viem's hashTypedData for 300 vouchers on three deployments, with either keccak", async () => {
    const native = await serverKeccak();
    for (let i = 0; i < 300; i++) {
      const ctx = contexts[i % contexts.length];
      const expected = voucherDigestReference(ctx, voucher(i));
      expect(voucherDigest(ctx, voucher(i)), `voucher ${i}`).toBe(expected);
      expect(voucherDigest(ctx, voucher(i), native), `voucher ${i}`).toBe(expected);
    }
  });

  it("differs with each field, the chain and the contract", () => {
    const ctx = contexts[0];
    const base = voucher(7);
    const digests = new Set([
      voucherDigest(ctx, base),
      voucherDigest(ctx, { ...base, seq: base.seq + 1n }),
      voucherDigest(ctx, { ...base, issuedAt: base.issuedAt + 1n }),
      voucherDigest(ctx, { ...base, cumulativeMax: base.cumulativeMax + 1n }),
      voucherDigest(ctx, { ...base, session: word(8, "session") }),
      voucherDigest(ctx, { ...base, charges: word(8, "charges") }),
      voucherDigest({ ...ctx, chainId: 31338 }, base),
      voucherDigest({ ...ctx, settlement: contexts[1].settlement }, base),
    ]);
    expect(digests.size).toBe(8);
  });

  it("refuses what hashTypedData refuses", () => {
    const ctx = contexts[0];
    const bad: Voucher[] = [
      { ...voucher(1), seq: -1n },
      { ...voucher(1), seq: 1n << 256n },
      { ...voucher(1), issuedAt: -5n },
      { ...voucher(1), cumulativeMax: 1n << 300n },
      { ...voucher(1), session: "0x1234" },
      { ...voucher(1), session: `${word(1, "session")}00` as Hex },
      { ...voucher(1), charges: "0x" },
    ];
    for (const v of bad) {
      expect(() => voucherDigestReference(ctx, v)).toThrow();
      expect(() => voucherDigest(ctx, v)).toThrow();
    }
  });

  it("refuses a settlement address with a wrong checksum, even once the right one's separator is kept", () => {
    const good = contexts[1];
    voucherDigest(good, voucher(2));
    const miscased = { ...good, settlement: good.settlement.replace("e7f1725E", "E7f1725e") as Address };
    expect(() => voucherDigestReference(miscased, voucher(2))).toThrow();
    expect(() => voucherDigest(miscased, voucher(2))).toThrow();
  });
});

describe("the hashes a paid message makes, with the native keccak", () => {
  it("gives the same charges hash and next voucher fields", async () => {
    const native = await serverKeccak();
    for (let i = 0; i < 50; i++) {
      const charges = Array.from({ length: i % 6 }, (_, j) => ({ slot: BigInt(j + i), max: BigInt(word(i + j, "max")) >> 140n }));
      expect(chargesHash(charges, native)).toBe(chargesHash(charges));
      const previous = { seq: BigInt(i), cumulativeMax: BigInt(i) * 1000n };
      expect(nextVoucherFields(previous, charges, native)).toEqual(nextVoucherFields(previous, charges));
    }
  });

  it("gives the same record hash, with and without dataset versions, in any script", async () => {
    const native = await serverKeccak();
    for (let i = 0; i < 50; i++) {
      const content = {
        id: `msg-${i}`,
        question: `What does checkpoint_timeout control? ${"réplication 设置 ".repeat(i)}`,
        answer: "The passages say the harbor lantern burns all night [1]. ".repeat(i % 20),
        passages: Array.from({ length: i % 5 }, (_, j) => `chunk-${i}-${j}`),
        datasetVersions: i % 2 ? [{ dataset: `ds-${i}`, version: i }, { dataset: `ds-${i + 1}`, version: 1 }] : undefined,
      };
      expect(recordHash(content, native)).toBe(recordHash(content));
    }
  });
});
