import { describe, expect, it } from "vitest";
import { concatHex, size, sliceHex, type Hex } from "viem";
import { encodeBatch, rejectReasonName, REJECT_REASONS, type Receipt, type Session } from "@/lib/protocol";

const payer = "0x1111111111111111111111111111111111111111";
const session: Session = { payer, key: "0x2222222222222222222222222222222222222222", spendCap: 1_000_000n, expiry: 2_000_000_000n, nonce: 1n };
const receipt: Receipt = { payer, slots: [1n, 2n], maxAmounts: [20_000n, 10_000n], nonce: 7n, deadline: 1_900_000_000n };
const rs = `0x${"ab".repeat(64)}` as Hex; // r and s of a signature

// Byte offsets of the packed format (docs/settlement-format.md).
const SESSION_AT = 2;
const SIG_LEN_AT = SESSION_AT + 69;
const sessionEnd = (sigLen: number) => SIG_LEN_AT + 1 + sigLen;

function encode(sessionSignature: Hex | undefined, receiptSignature: Hex): Hex {
  return encodeBatch({
    sessions: [{ session, signature: sessionSignature }],
    receipts: [{ sessionIndex: 0, receipt, signature: receiptSignature }],
  });
}

describe("packed settlement batch", () => {
  it("sends a wallet's session signature byte for byte, whatever its v and length", () => {
    for (const signature of [
      concatHex([rs, "0x1b"]), // an EOA, v 27
      concatHex([rs, "0x00"]), // an EOA with v 0, or a smart wallet whose format uses v 0: never rewritten
      concatHex([rs, "0x01", "0xdeadbeef"]), // a smart wallet's longer signature
    ]) {
      const batch = encode(signature, concatHex([rs, "0x1c"]));
      const length = size(signature);
      expect(Number(sliceHex(batch, SIG_LEN_AT, SIG_LEN_AT + 1))).toBe(length);
      expect(sliceHex(batch, SIG_LEN_AT + 1, sessionEnd(length))).toBe(signature);
    }
  });

  it("marks a registered session with sigLen 0 and rejects signatures the format cannot carry", () => {
    const batch = encode(undefined, concatHex([rs, "0x1c"]));
    expect(Number(sliceHex(batch, SIG_LEN_AT, SIG_LEN_AT + 1))).toBe(0);
    expect(() => encode("0x", concatHex([rs, "0x1c"]))).toThrow(/1\.\.255 bytes/);
    expect(() => encode(`0x${"00".repeat(256)}`, concatHex([rs, "0x1c"]))).toThrow(/1\.\.255 bytes/);
  });

  it("sends a session key's receipt signature with v 27/28", () => {
    for (const [v, sent] of [
      ["0x00", "0x1b"],
      ["0x01", "0x1c"],
      ["0x1b", "0x1b"],
      ["0x1c", "0x1c"],
    ] as const) {
      const batch = encode(undefined, concatHex([rs, v]));
      expect(sliceHex(batch, size(batch) - 65)).toBe(concatHex([rs, sent]));
    }
    expect(() => encode(undefined, concatHex([rs, "0x1b", "0x00"]))).toThrow(/65 bytes/);
  });

  it("names every reject reason of the contract", () => {
    expect(REJECT_REASONS).toHaveLength(11);
    expect(rejectReasonName(4)).toBe("Replayed");
    expect(rejectReasonName(10)).toBe("AmountNotSignedMax");
    expect(rejectReasonName(11)).toBe("Unknown(11)");
  });
});
