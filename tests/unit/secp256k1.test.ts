// The server's signer recovery and signing (libsecp256k1, lib/chat/secp256k1.ts) against viem's, the
// reference: the same address for every signature, the same verdict through isSignedByKey for every
// malformed one, and the same signature bytes for every digest and key.
import { describe, expect, it } from "vitest";
import { keccak256, recoverAddress, toHex, type Hex } from "viem";
import { privateKeyToAccount, sign } from "viem/accounts";
import { nativeRecovery, recoverSigner, signDigest } from "@/lib/chat/secp256k1";
import { isSignedByKey, signVoucher, signVoucherWith, verifyVoucher, type Voucher } from "@/lib/protocol";

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const word = (n: bigint) => n.toString(16).padStart(64, "0");

/** A deterministic key and digest per index (no randomness: a failure names its case). */
function sample(i: number) {
  const privateKey = keccak256(toHex(`key ${i}`));
  const account = privateKeyToAccount(privateKey);
  const digest = keccak256(toHex(`digest ${i}`));
  return { privateKey, account, digest };
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

  it("signs every digest with the same bytes as viem (RFC 6979), in the form the contract takes", async () => {
    for (let i = 0; i < 100; i++) {
      const { privateKey, account, digest } = sample(i);
      const signature = await signDigest(digest, privateKey);
      expect(signature).toBe(await sign({ hash: digest, privateKey, to: "hex" }));
      expect(await isSignedByKey(digest, signature, account.address, recoverSigner)).toBe(true);
    }
  });

  it("signs a voucher as signVoucher does, and refuses keys and digests that are not 32 bytes or not on the curve", async () => {
    const { privateKey, account } = sample(7);
    const ctx = { chainId: 31337, settlement: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
    const voucher: Voucher = { session: keccak256(toHex("session")), seq: 3n, issuedAt: 1_700_000_000n, cumulativeMax: 17_000n, charges: keccak256(toHex("charges")) };
    const signature = await signVoucherWith((digest) => signDigest(digest, privateKey), ctx, voucher);
    expect(signature).toBe(await signVoucher(account, ctx, voucher));
    expect(await verifyVoucher(ctx, voucher, signature, account.address, recoverSigner)).toBe(true);
    await expect(signVoucherWith((digest) => signDigest(digest, privateKey), ctx, { ...voucher, seq: 0n })).rejects.toThrow();
    const digest = keccak256(toHex("d"));
    await expect(signDigest(digest, `0x${word(0n)}`)).rejects.toThrow();
    await expect(signDigest(digest, `0x${word(CURVE_ORDER)}`)).rejects.toThrow();
    await expect(signDigest(digest, "0x1234")).rejects.toThrow(/32 bytes/);
    await expect(signDigest("0x1234", privateKey)).rejects.toThrow(/32 bytes/);
  });
});
