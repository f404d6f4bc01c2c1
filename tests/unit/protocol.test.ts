// lib/protocol without a chain: the account's running maximum, the packed per-query records and the settle
// calldata.
// (tests/integration/settlement.test.ts checks the same encoders against the real contract.)
import { describe, expect, it } from "vitest";
import { keccak256, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  chargesHash,
  compactSignature,
  decodeSettle,
  encodeSettle,
  hashSession,
  isCanonicalSignature,
  nextVoucherFields,
  packRecords,
  recordHash,
  rejectReasonName,
  signSession,
  signVoucher,
  slotTable,
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

describe("the account's running maximum", () => {
  it("counts queries and grows the maximum by each query's maxima, committing their split", () => {
    const charges = [
      { slot: 10n, max: 4_000n },
      { slot: 11n, max: 3_000n },
    ];
    const first = nextVoucherFields({ seq: 0n, cumulativeMax: 0n }, charges);
    expect(first).toEqual({ seq: 1n, cumulativeMax: 7_000n, charges: chargesHash(charges) });
    const second = nextVoucherFields(first, [{ slot: 12n, max: 500n }]);
    expect(second).toMatchObject({ seq: 2n, cumulativeMax: 7_500n });
    // The hash binds the split, not only the total: moving a unit between slots changes it.
    expect(chargesHash([{ slot: 10n, max: 4_001n }, { slot: 11n, max: 2_999n }])).not.toBe(chargesHash(charges));
    expect(chargesHash([...charges].reverse())).not.toBe(chargesHash(charges));
  });
});

describe("per-query records", () => {
  const slots = [10n, 11n, 12n, 13n];
  const records: QueryRecord[] = [
    { app: 10n, charges: [{ slot: 10n, amount: 4_000n }, { slot: 11n, amount: 1_234n }, { slot: 13n, amount: 0n }], tokensIn: 1_500, tokensOut: 80, recordHash: hash(1) },
    { app: 10n, charges: [{ slot: 12n, amount: 2_000n }, { slot: 10n, amount: 4_000n }], tokensIn: 0, tokensOut: 0, recordHash: hash(2) },
  ];

  it("packs to 40 bytes plus 9 per charged slot and reads back exactly (charges in table order)", () => {
    const packed = packRecords(slots, records);
    expect((packed.length - 2) / 2).toBe(40 + 3 * 9 + 40 + 2 * 9);
    const back = unpackRecords(slots, packed);
    expect(back[0]).toEqual(records[0]);
    expect(back[1].charges).toEqual([{ slot: 10n, amount: 4_000n }, { slot: 12n, amount: 2_000n }]);
  });

  it("refuses what the contract would: unknown slots, doubled slots, wide amounts, truncated bytes", () => {
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 99n, amount: 1n }] }])).toThrow(/not in the batch's slot table/);
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 10n, amount: 1n }, { slot: 10n, amount: 2n }] }])).toThrow(/twice/);
    expect(() => packRecords(slots, [{ ...records[0], charges: [{ slot: 10n, amount: 1n << 64n }] }])).toThrow(/uint64/);
    expect(() => packRecords(slots, [{ ...records[0], tokensIn: 2 ** 24 }])).toThrow(/uint24/);
    const packed = packRecords(slots, records);
    expect(() => unpackRecords(slots, packed.slice(0, -2) as Hex)).toThrow(/truncated/);
    expect(() => unpackRecords(slots.slice(0, 2), packed)).toThrow(/past the slot table/);
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
  it("round-trips: every field of every item, with the sender as the sessions' operator", async () => {
    const fields = nextVoucherFields({ seq: 4n, cumulativeMax: 20_000n }, [{ slot: 10n, max: 4_000n }, { slot: 11n, max: 3_000n }]);
    const voucher = { session: hashSession(session), ...fields, issuedAt: 1_900_000_000n };
    const signature = await signVoucher(key, ctx, voucher);
    expect(await verifyVoucher(ctx, voucher, signature, key.address)).toBe(true);
    expect(await verifyVoucher({ ...ctx, chainId: 1 }, voucher, signature, key.address)).toBe(false);
    const payer = privateKeyToAccount(`0x${"43".repeat(32)}`);
    const own = { ...session, payer: payer.address };
    const ownVoucher = { ...voucher, session: hashSession(own) };
    const item = {
      session: own,
      sessionSignature: { kind: "key" as const, signature: await signSession(payer, ctx, own) },
      voucher: ownVoucher,
      voucherSignature: await signVoucher(key, ctx, ownVoucher),
      records: [
        { app: 10n, charges: [{ slot: 10n, amount: 4_000n }, { slot: 11n, amount: 100n }], tokensIn: 1, tokensOut: 2, recordHash: hash(3) },
        { app: 12n, charges: [{ slot: 12n, amount: 7n }], tokensIn: 0, tokensOut: 16_777_215, recordHash: hash(4) },
      ],
    };
    const wallet = { ...item, sessionSignature: { kind: "wallet" as const, signature: `0x${"ab".repeat(300)}` as Hex }, records: [] };
    expect(slotTable([item, wallet])).toEqual([10n, 11n, 12n]);
    const decoded = decodeSettle(encodeSettle([item, wallet]), session.operator);
    expect(decoded[0]).toEqual({
      session: own,
      sessionSignature: compactSignature(item.sessionSignature.signature),
      voucher: ownVoucher,
      voucherSignature: compactSignature(item.voucherSignature),
      records: item.records,
    });
    expect(decoded[1].sessionSignature).toBe(wallet.sessionSignature.signature);
    expect(decoded[1].records).toEqual([]);
    // Read as another sender's batch, the same bytes name sessions of that operator (other ids).
    expect(decodeSettle(encodeSettle([item]), payer.address)[0].voucher.session).not.toBe(ownVoucher.session);
    expect(() => encodeSettle([])).toThrow(/at least one item/);
    expect(() => encodeSettle([{ ...item, voucher: { ...ownVoucher, seq: 1n << 40n } }])).toThrow(/seq/);
    expect(() => encodeSettle([{ ...item, session: { ...own, spendCap: 1n << 96n } }])).toThrow(/spendCap/);
  });

  it("compacts a key's signature to EIP-2098 without changing its signer", async () => {
    const voucher = { session: hash(0), seq: 1n, issuedAt: 1_700_000_000n, cumulativeMax: 4_000n, charges: hash(1) };
    for (let i = 0; i < 8; i++) {
      const signature = await signVoucher(privateKeyToAccount(keccak256(toHex(`key ${i}`))), ctx, { ...voucher, seq: BigInt(i + 1) });
      const compact = compactSignature(signature);
      expect((compact.length - 2) / 2).toBe(64);
      expect(compact.slice(0, 66)).toBe(signature.slice(0, 66));
      const yParity = Number.parseInt(signature.slice(130), 16) - 27;
      expect(BigInt(`0x${compact.slice(66)}`) >> 255n).toBe(BigInt(yParity));
    }
  });

  it("names every reason the contract gives", () => {
    expect([0, 1, 3, 5, 6, 10, 11].map(rejectReasonName)).toEqual(["None", "SessionInvalid", "BadSignature", "StaleVoucher", "BadSessionSignature", "InsufficientBalance", "UnknownSlot"]);
    expect(rejectReasonName(40)).toBe("Unknown(40)");
  });
});

describe("signatures the contract accepts", () => {
  const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const voucher = { session: hash(0), seq: 1n, issuedAt: 1_700_000_000n, cumulativeMax: 4_000n, charges: hash(1) };

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
