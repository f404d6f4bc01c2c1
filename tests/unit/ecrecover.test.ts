// The server's signer recovery (libsecp256k1, lib/chat/ecrecover.ts) against viem's, the reference: the
// same address for every signature, and the same verdict through isSignedByKey for every malformed one.
import { describe, expect, it } from "vitest";
import { keccak256, recoverAddress, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { nativeRecovery, recoverSigner } from "@/lib/chat/ecrecover";
import { isSignedByKey } from "@/lib/protocol";

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const word = (n: bigint) => n.toString(16).padStart(64, "0");

/** A deterministic key and digest per index (no randomness: a failure names its case). */
function sample(i: number) {
  const account = privateKeyToAccount(keccak256(toHex(`key ${i}`)));
  const digest = keccak256(toHex(`digest ${i}`));
  return { account, digest };
}

describe("recovering a signer with libsecp256k1", () => {
  it("uses the native binding on this platform", async () => {
    expect(await nativeRecovery()).toBe(true);
  });

  it("recovers the same address as viem for 200 signatures, with v as 27/28 and as 0/1", async () => {
    for (let i = 0; i < 200; i++) {
      const { account, digest } = sample(i);
      const signature = await account.sign({ hash: digest });
      const expected = await recoverAddress({ hash: digest, signature });
      expect(expected).toBe(account.address);
      expect((await recoverSigner(digest, signature)).toLowerCase()).toBe(expected.toLowerCase());
      const v = Number.parseInt(signature.slice(130), 16);
      const zeroBased = `${signature.slice(0, 130)}${(v - 27).toString(16).padStart(2, "0")}` as Hex;
      expect((await recoverSigner(digest, zeroBased)).toLowerCase()).toBe((await recoverAddress({ hash: digest, signature: zeroBased })).toLowerCase());
      // Another digest under the same signature recovers someone else, for both.
      const other = keccak256(digest);
      expect((await recoverSigner(other, signature)).toLowerCase()).toBe((await recoverAddress({ hash: other, signature })).toLowerCase());
    }
  });

  it("gives isSignedByKey the same verdict as viem for malformed signatures", async () => {
    const { account, digest } = sample(1);
    const good = await account.sign({ hash: digest });
    const r = good.slice(2, 66);
    const s = BigInt(`0x${good.slice(66, 130)}`);
    const v = Number.parseInt(good.slice(130), 16);
    const flippedV = (v === 27 ? 28 : 27).toString(16);
    const cases: Hex[] = [
      good,
      `0x${r}${word(CURVE_ORDER - s)}${flippedV}`, // the same signature with high s
      `0x${r}${word(s)}1d`, // v 29
      `0x${word(0n)}${word(s)}${v.toString(16)}`, // r 0
      `0x${r}${word(0n)}${v.toString(16)}`, // s 0
      `0x${word(CURVE_ORDER)}${word(s)}${v.toString(16)}`, // r = n
      `0x${word(CURVE_ORDER + 1n)}${word(s)}${v.toString(16)}`, // r past n
      `0x${"ff".repeat(32)}${word(s)}${v.toString(16)}`, // r = 2^256 - 1
      `0x${r}${word(s)}${flippedV}`, // the other recovery id
      good.slice(0, 130) as Hex, // 64 bytes
      `${good}00` as Hex, // 66 bytes
      "0x",
    ];
    for (const signature of cases) {
      const reference = await isSignedByKey(digest, signature, account.address);
      expect({ signature, verdict: await isSignedByKey(digest, signature, account.address, recoverSigner) }).toEqual({ signature, verdict: reference });
    }
    expect(await isSignedByKey(digest, good, account.address, recoverSigner)).toBe(true);
    expect(await isSignedByKey(keccak256(digest), good, account.address, recoverSigner)).toBe(false);
  });

  it("throws for what cannot be recovered, as viem does", async () => {
    const { account, digest } = sample(2);
    const signature = await account.sign({ hash: digest });
    await expect(recoverSigner(digest, `0x${word(0n)}${signature.slice(66)}` as Hex)).rejects.toThrow();
    await expect(recoverSigner("0x1234", signature)).rejects.toThrow(/32 bytes/);
    await expect(recoverSigner(digest, `${signature.slice(0, 130)}05` as Hex)).rejects.toThrow(/v \(5\)/);
  });
});
