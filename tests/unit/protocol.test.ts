// lib/protocol without a chain: running maxima, the packed per-query records and the settle calldata.
// (tests/integration/settlement.test.ts checks the same encoders against the real contract.)
import { describe, expect, it } from "vitest";
import { keccak256, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  decodeSettle,
  encodeSettle,
  isCanonicalSignature,
  nextVoucherState,
  packRecords,
  recordHash,
  rejectReasonName,
  settledAfter,
  signVoucher,
  unpackRecords,
  verifyVoucher,
  type QueryRecord,
  type Session,
} from "@/lib/protocol";

const key = privateKeyToAccount(`0x${"42".repeat(32)}`);
const session: Session = {
  payer: "0x1111111111111111111111111111111111111111",
  key: key.address,
  operator: "0x3333333333333333333333333333333333333333",
  spendCap: 1_000_000n,
  expiry: 2_000_000_000n,
  nonce: 1n,
};
const ctx = { chainId: 31337, settlement: "0x5555555555555555555555555555555555555555" as const };
const hash = (n: number) => keccak256(toHex(`record ${n}`));

describe("running maxima", () => {
  it("keeps slots in place, appends new ones and grows each by its charge", () => {
    const first = nextVoucherState(null, [
      { slot: 10n, max: 4_000n },
      { slot: 11n, max: 3_000n },
    ]);
    expect(first).toEqual({ seq: 1n, slots: [10n, 11n], maxAmounts: [4_000n, 3_000n] });
    // Another app in the same session: its slots are appended, shared slots grow.
    const second = nextVoucherState(first, [
      { slot: 12n, max: 500n },
      { slot: 11n, max: 3_000n },
    ]);
    expect(second).toEqual({ seq: 2n, slots: [10n, 11n, 12n], maxAmounts: [4_000n, 6_000n, 500n] });
  });
});

describe("per-query records", () => {
  const slots = [10n, 11n, 12n, 13n];
  const records: QueryRecord[] = [
    { app: 10n, charges: [{ slot: 10n, amount: 4_000n }, { slot: 11n, amount: 1_234n }, { slot: 13n, amount: 0n }], tokensIn: 1_500, tokensOut: 80, recordHash: hash(1) },
    { app: 10n, charges: [{ slot: 12n, amount: 2_000n }, { slot: 10n, amount: 4_000n }], tokensIn: 0, tokensOut: 0, recordHash: hash(2) },
  ];

  it("packs to 45 bytes plus 8 per charged slot and reads back exactly (charges in slot order)", () => {
    const packed = packRecords(slots, records);
    expect((packed.length - 2) / 2).toBe(45 + 3 * 8 + 45 + 2 * 8);
    const back = unpackRecords(slots, packed);
    expect(back[0]).toEqual(records[0]);
    expect(back[1].charges).toEqual([{ slot: 10n, amount: 4_000n }, { slot: 12n, amount: 2_000n }]);
  });

  it("refuses what the contract would: unknown slots, doubled slots, wide amounts, truncated bytes", () => {
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 99n, amount: 1n }] }])).toThrow(/not in the voucher/);
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 10n, amount: 1n }, { slot: 10n, amount: 2n }] }])).toThrow(/twice/);
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 10n, amount: 1n << 64n }] }])).toThrow(/uint64/);
    expect(() => packRecords(slots, [{ ...records[0], tokensIn: 2 ** 32 }])).toThrow(/uint32/);
    const packed = packRecords(slots, records);
    expect(() => unpackRecords(slots, packed.slice(0, -2) as Hex)).toThrow(/truncated/);
    expect(() => unpackRecords(slots.slice(0, 2), packed)).toThrow(/mask past the slot list/);
  });

  it("binds the answer's id, the question, the answer and the passages: changing any changes the hash", () => {
    const base = { id: "m1", question: "q", answer: "a", passages: ["c1", "c2"] };
    const h = recordHash(base);
    expect(recordHash({ ...base })).toBe(h);
    for (const changed of [{ ...base, id: "m2" }, { ...base, question: "q?" }, { ...base, answer: "a." }, { ...base, passages: ["c2", "c1"] }, { ...base, passages: ["c1c2"] }]) {
      expect(recordHash(changed)).not.toBe(h);
    }
  });
});

describe("settle calldata", () => {
  it("round-trips through the contract's ABI and sums the records into the next state", async () => {
    const state = nextVoucherState(nextVoucherState(null, [{ slot: 10n, max: 4_000n }, { slot: 11n, max: 3_000n }]), [{ slot: 10n, max: 4_000n }, { slot: 11n, max: 3_000n }]);
    const voucher = { session: `0x${"77".repeat(32)}` as Hex, ...state, issuedAt: 1_900_000_000n };
    const signature = await signVoucher(key, ctx, voucher);
    expect(await verifyVoucher(ctx, voucher, signature, key.address)).toBe(true);
    expect(await verifyVoucher({ ...ctx, chainId: 1 }, voucher, signature, key.address)).toBe(false);
    const item = {
      session,
      sessionSignature: "0x" as Hex,
      voucher,
      voucherSignature: signature,
      prevSeq: 1n,
      prevSettled: [4_000n],
      records: [{ app: 10n, charges: [{ slot: 10n, amount: 4_000n }, { slot: 11n, amount: 100n }], tokensIn: 1, tokensOut: 2, recordHash: hash(3) }],
    };
    const [decoded] = decodeSettle(encodeSettle([item]));
    expect(decoded).toEqual(item);
    expect(settledAfter(item)).toEqual([8_000n, 100n]);
    expect(() => encodeSettle([{ ...item, voucher: { ...voucher, slots: [10n, 10n] } }])).toThrow(/twice/);
    expect(() => encodeSettle([{ ...item, prevSettled: [1n, 2n, 3n] }])).toThrow(/more settled totals/);
  });

  it("names every reason the contract gives", () => {
    expect([0, 1, 5, 6, 11, 12].map(rejectReasonName)).toEqual(["None", "NotOperator", "StaleVoucher", "StateMismatch", "InsufficientBalance", "UnknownSlot"]);
    expect(rejectReasonName(40)).toBe("Unknown(40)");
  });
});

describe("signatures the contract accepts", () => {
  const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const voucher = { session: hash(0), seq: 1n, issuedAt: 1_700_000_000n, slots: [10n], maxAmounts: [4_000n] };

  it("takes a key's signature only as 65 bytes with v 27 or 28 and low s, as OpenZeppelin's ECDSA does", async () => {
    const signature = await signVoucher(key, ctx, voucher);
    expect(isCanonicalSignature(signature)).toBe(true);
    expect(await verifyVoucher(ctx, voucher, signature, key.address)).toBe(true);
    const v = Number.parseInt(signature.slice(130), 16);
    const lowV = `${signature.slice(0, 130)}${(v - 27).toString(16).padStart(2, "0")}` as Hex;
    const s = CURVE_ORDER - BigInt(`0x${signature.slice(66, 130)}`);
    const highS = `${signature.slice(0, 66)}${s.toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    for (const twin of [lowV, highS, `${signature}00` as Hex, signature.slice(0, 130) as Hex]) {
      expect(isCanonicalSignature(twin)).toBe(false);
      expect(await verifyVoucher(ctx, voucher, twin, key.address)).toBe(false);
    }
  });
});
