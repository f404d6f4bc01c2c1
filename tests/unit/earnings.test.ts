// Figures computed from protocol logs: the slot replay (checked against KipAssets' own accounting rules),
// queries per slot, daily buckets, protocol totals, share percentages, and the log decoding/JSON round trip
// the event index relies on.
import { describe, expect, it } from "vitest";
import { encodeAbiParameters, encodeEventTopics, getAddress, type Hex } from "viem";
import {
  SHARES_PER_SLOT,
  candidateTokenIds,
  dailyActivity,
  dailyEarnings,
  ledgerClaimable,
  ledgerTotalEarned,
  protocolTotals,
  replaySlot,
  sharePercent,
  slotQueries,
  utcDay,
} from "@/lib/chain/earnings";
import { decodeProtocolLog, eventKeys, parseEventArgs, serializeEventArgs, type EventBody, type EventOf, type ProtocolEvent } from "@/lib/chain/events";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "@/lib/chain/generated";

const ALICE = getAddress("0x00000000000000000000000000000000000a11ce");
const BOB = getAddress("0x0000000000000000000000000000000000000b0b");
const PAYER = getAddress("0x00000000000000000000000000000000000000aa");
const ZERO = getAddress("0x0000000000000000000000000000000000000000");
const DAY1 = Date.UTC(2025, 0, 1, 12) / 1000;
const DAY2 = DAY1 + 86_400;

/** Builds events in chain order: each call is the next log; `tx()` starts a new transaction/block. */
function chain() {
  const events: ProtocolEvent[] = [];
  let block = 100;
  let logIndex = 0;
  let timestamp = DAY1;
  const hash = () => `0x${block.toString(16).padStart(64, "0")}` as Hex;
  return {
    events,
    tx(at?: number) {
      block += 1;
      logIndex = 0;
      if (at !== undefined) timestamp = at;
    },
    emit(body: EventBody) {
      events.push({ blockNumber: block, logIndex: logIndex++, txHash: hash(), timestamp, ...body });
    },
    /** KipAssets.list: AssetListed, Transfer, SlotChanged, TransferValue(0 -> token, all shares). */
    list(slot: bigint, tokenId: bigint, creator = ALICE) {
      this.tx();
      this.emit({ name: "AssetListed", slot, creator, kind: 0, tokenId, pricePerQuery: 1_000n, uri: "u", contentHash: `0x${"11".repeat(32)}` });
      this.emit({ name: "Transfer", from: ZERO, to: creator, tokenId });
      this.emit({ name: "SlotChanged", tokenId, oldSlot: 0n, newSlot: slot });
      this.emit({ name: "TransferValue", fromTokenId: 0n, toTokenId: tokenId, value: SHARES_PER_SLOT });
    },
    /** KipAssets.transferFrom(fromTokenId, to, value): a new token in the same slot. */
    split(fromTokenId: bigint, slot: bigint, newTokenId: bigint, to: Hex, value: bigint) {
      this.tx();
      this.emit({ name: "Transfer", from: ZERO, to: getAddress(to), tokenId: newTokenId });
      this.emit({ name: "SlotChanged", tokenId: newTokenId, oldSlot: 0n, newSlot: slot });
      this.emit({ name: "TransferValue", fromTokenId: 0n, toTokenId: newTokenId, value: 0n });
      this.emit({ name: "TransferValue", fromTokenId, toTokenId: newTokenId, value });
    },
    /** One settle() of one session: its query records, then credits per slot (net of fee), then BatchSettled. */
    settle(receipts: { nonce: bigint; charges: [bigint, bigint][] }[], feeBps = 250n, at?: number) {
      this.tx(at);
      const gross = new Map<bigint, bigint>();
      const records = receipts.map((receipt) => ({
        app: receipt.charges[0][0],
        charges: receipt.charges.map(([slot, amount]) => ({ slot, amount })),
        tokensIn: 100,
        tokensOut: 10,
        recordHash: `0x${receipt.nonce.toString(16).padStart(64, "0")}` as Hex,
      }));
      const total = receipts.reduce((sum, r) => sum + r.charges.reduce((a, [, amount]) => a + amount, 0n), 0n);
      this.emit({ name: "SessionSettled", session: `0x${"22".repeat(32)}`, payer: PAYER, seq: receipts.at(-1)?.nonce ?? 0n, total, records });
      for (const receipt of receipts) {
        for (const [slot, amount] of receipt.charges) gross.set(slot, (gross.get(slot) ?? 0n) + amount);
      }
      let fees = 0n;
      for (const [slot, amount] of gross) {
        const fee = (amount * feeBps) / 10_000n;
        fees += fee;
        this.emit({ name: "RevenueCredited", slot, amount: amount - fee });
      }
      this.emit({ name: "BatchSettled", operator: ALICE, settled: 1n, rejected: 0n, gross: total, fees });
    },
  };
}

describe("replaySlot", () => {
  it("credits the holder, keeps earlier revenue with the sender on a split, and pays only later revenue to the receiver", () => {
    const c = chain();
    c.list(1n, 1n);
    c.settle([{ nonce: 1n, charges: [[1n, 10_000n]] }]); // net 9,750 -> all to token 1
    c.split(1n, 1n, 2n, BOB, 250_000n); // Bob gets 25 % from now on
    c.settle([{ nonce: 2n, charges: [[1n, 10_000n]] }], 250n, DAY2); // net 9,750: 7,312.5 / 2,437.5

    const ledgers = replaySlot(c.events, 1n);
    const a = ledgers.get(1n)!;
    const b = ledgers.get(2n)!;
    expect(a.value).toBe(750_000n);
    expect(b.value).toBe(250_000n);
    expect(a.earnedScaled).toBe(9_750n * SHARES_PER_SLOT + 9_750n * 750_000n);
    expect(b.earnedScaled).toBe(9_750n * 250_000n);
    expect(ledgerClaimable(a)).toBe(9_750n + 7_312n);
    expect(ledgerClaimable(b)).toBe(2_437n);
    // Sub-unit remainders stay with the tokens and never sum to more than the slot's revenue.
    expect(ledgerClaimable(a) + ledgerClaimable(b)).toBeLessThanOrEqual(19_500n);
    expect(b.credits.map((credit) => credit.txHash)).toEqual([c.events.at(-1)!.txHash]);
    expect(dailyEarnings(a).map((day) => [day.day, day.earnedScaled])).toEqual([
      [utcDay(DAY1), 9_750n * SHARES_PER_SLOT],
      [utcDay(DAY2), 9_750n * 750_000n],
    ]);
  });

  it("subtracts claims like the contract (remainder kept) and ignores other slots", () => {
    const c = chain();
    c.list(1n, 1n);
    c.list(2n, 2n, BOB);
    c.split(1n, 1n, 3n, BOB, 333_333n);
    c.settle([{ nonce: 1n, charges: [[1n, 1_000n], [2n, 5_000n]] }], 0n);
    const before = replaySlot(c.events, 1n);
    expect(ledgerClaimable(before.get(1n)!)).toBe(666n); // 666,667 * 1,000 / 1e6 = 666.667
    expect(ledgerClaimable(before.get(3n)!)).toBe(333n);
    expect(before.has(2n)).toBe(false);

    c.tx();
    c.emit({ name: "RevenueClaimed", tokenId: 1n, owner: ALICE, amount: 666n });
    c.settle([{ nonce: 2n, charges: [[1n, 1_000n]] }], 0n);
    const after = replaySlot(c.events, 1n).get(1n)!;
    // 0.667 left over + 666.667 = 667.334 -> 667 claimable; 1,333 earned in total.
    expect(after.claimed).toBe(666n);
    expect(ledgerClaimable(after)).toBe(667n);
    expect(ledgerTotalEarned(after)).toBe(1_333n);
    expect(after.claims).toHaveLength(1);
  });

  it("moves value between tokens of a slot and treats a whole-token transfer as ownership only", () => {
    const c = chain();
    c.list(1n, 1n);
    c.split(1n, 1n, 2n, BOB, 400_000n);
    c.tx();
    c.emit({ name: "TransferValue", fromTokenId: 2n, toTokenId: 1n, value: 100_000n }); // merge back part
    c.emit({ name: "Transfer", from: BOB, to: ALICE, tokenId: 2n }); // whole token to Alice
    c.emit({ name: "TransferValue", fromTokenId: 1n, toTokenId: 1n, value: 5n }); // self transfer: no move
    const ledgers = replaySlot(c.events, 1n);
    expect(ledgers.get(1n)!.value).toBe(700_000n);
    expect(ledgers.get(2n)!.value).toBe(300_000n);
    expect(candidateTokenIds(c.events, ALICE)).toEqual([1n, 2n]);
    expect(candidateTokenIds(c.events, BOB)).toEqual([2n]);
  });
});

describe("queries and totals", () => {
  it("counts a query for a slot only when it was charged, and buckets per UTC day", () => {
    const c = chain();
    c.list(1n, 1n);
    c.list(2n, 2n);
    c.settle([
      { nonce: 1n, charges: [[1n, 4_000n], [2n, 2_000n]] },
      { nonce: 2n, charges: [[1n, 4_000n], [2n, 0n]] }, // dataset 2 offered but not used
    ]);
    c.settle([{ nonce: 3n, charges: [[1n, 4_000n]] }], 250n, DAY2);
    const queries = slotQueries(c.events, 2n);
    expect(queries.map((q) => BigInt(q.recordHash))).toEqual([1n]);
    expect(slotQueries(c.events, 1n).map((q) => q.amount)).toEqual([4_000n, 4_000n, 4_000n]);

    const credits = c.events.filter((e): e is EventOf<"RevenueCredited"> => e.name === "RevenueCredited" && e.slot === 1n);
    const days = dailyActivity(slotQueries(c.events, 1n), credits);
    expect(days.map((d) => [d.day, d.queries, d.gross, d.net])).toEqual([
      [utcDay(DAY1), 2, 8_000n, 8_000n - 200n],
      [utcDay(DAY2), 1, 4_000n, 4_000n - 100n],
    ]);

    const totals = protocolTotals(c.events);
    expect(totals.batches).toBe(2);
    expect(totals.queriesSettled).toBe(3n);
    expect(totals.totalPaid).toBe(14_000n);
    expect(totals.fees).toBe(200n + 50n + 100n);
    expect(totals.netToHolders).toBe(totals.totalPaid - totals.fees);
    expect(totals.slots.map((s) => [s.slot, s.queries])).toEqual([
      [1n, 3],
      [2n, 1],
    ]);
    expect(totals.batchTxHashes[0]).toBe(c.events.at(-1)!.txHash);
  });

  it("formats shares of 1,000,000 as an exact percentage", () => {
    expect(sharePercent(1_000_000n)).toBe("100");
    expect(sharePercent(250_000n)).toBe("25");
    expect(sharePercent(333_333n)).toBe("33.3333");
    expect(sharePercent(1n)).toBe("0.0001");
    expect(sharePercent(0n)).toBe("0");
  });
});

describe("events", () => {
  it("decodes KipSettlement.SessionSettled (its records come from the transaction input) and restores it from the index", () => {
    const session = `0x${"33".repeat(32)}` as Hex;
    const topics = encodeEventTopics({ abi: kipSettlementAbi, eventName: "SessionSettled", args: { session, payer: PAYER } }) as [Hex, ...Hex[]];
    const data = encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }, { type: "uint256" }], [7n, 2n, 1_234n]);
    const event = decodeProtocolLog({ topics, data }, "settlement");
    expect(event).toEqual({ name: "SessionSettled", session, payer: PAYER, seq: 7n, total: 1_234n, records: [] });
    const withRecords = {
      ...event!,
      records: [{ app: 5n, charges: [{ slot: 5n, amount: 1_234n }, { slot: 9n, amount: 0n }], tokensIn: 12, tokensOut: 3, recordHash: `0x${"44".repeat(32)}` as Hex }],
    };
    expect(parseEventArgs(serializeEventArgs(withRecords))).toEqual(withRecords);
    expect(eventKeys(withRecords)).toEqual({ slot: null, tokenId: null, toTokenId: null, account: PAYER.toLowerCase() });
  });

  it("decodes KipLicences.LicenceBought, restores it from the index, and counts it in the protocol's totals", () => {
    const topics = encodeEventTopics({ abi: kipLicencesAbi, eventName: "LicenceBought", args: { slot: 4n, version: 2n, buyer: PAYER } }) as [Hex, ...Hex[]];
    const data = encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }, { type: "bool" }], [12_500_000n, 312_500n, true]);
    const event = decodeProtocolLog({ topics, data }, "licences");
    expect(event).toEqual({ name: "LicenceBought", slot: 4n, version: 2n, buyer: PAYER, price: 12_500_000n, fee: 312_500n, upgrade: true });
    expect(parseEventArgs(serializeEventArgs(event!))).toEqual(event);
    expect(eventKeys(event!)).toEqual({ slot: 4n, tokenId: null, toTokenId: null, account: PAYER.toLowerCase() });
    const meta = { blockNumber: 10, txHash: `0x${"55".repeat(32)}` as Hex, timestamp: 1 };
    const totals = protocolTotals([
      { ...meta, logIndex: 0, name: "RevenueCredited", slot: 4n, amount: 12_500_000n - 312_500n },
      { ...meta, logIndex: 1, ...(event as Extract<EventBody, { name: "LicenceBought" }>) },
    ]);
    expect(totals).toMatchObject({ licencesSold: 1, totalPaid: 12_500_000n, fees: 312_500n, netToHolders: 12_500_000n - 312_500n, queriesSettled: 0n });
    expect(totals.netToHolders + totals.fees).toBe(totals.totalPaid);
    expect(totals.slots).toEqual([{ slot: 4n, queries: 0, gross: 12_500_000n, net: 12_500_000n - 312_500n }]);

    // Licences to a free version are not sales: a script taking one per fresh wallet moves no figure.
    const free = Array.from({ length: 50 }, (_, i) => ({ ...meta, logIndex: 2 + i, ...(event as Extract<EventBody, { name: "LicenceBought" }>), slot: 7n, price: 0n, fee: 0n }));
    const withFree = protocolTotals([
      { ...meta, logIndex: 0, name: "RevenueCredited", slot: 4n, amount: 12_500_000n - 312_500n },
      { ...meta, logIndex: 1, ...(event as Extract<EventBody, { name: "LicenceBought" }>) },
      ...free,
    ]);
    expect(withFree).toEqual(totals);
  });

  it("decodes KipAssets.TransferValue and skips events the index does not keep", () => {
    const topics = encodeEventTopics({ abi: kipAssetsAbi, eventName: "TransferValue", args: { _fromTokenId: 1n, _toTokenId: 2n } }) as [Hex, ...Hex[]];
    const event = decodeProtocolLog({ topics, data: encodeAbiParameters([{ type: "uint256" }], [42n]) }, "assets");
    expect(event).toEqual({ name: "TransferValue", fromTokenId: 1n, toTokenId: 2n, value: 42n });
    expect(eventKeys(event!)).toEqual({ slot: null, tokenId: 1n, toTokenId: 2n, account: null });

    const approval = encodeEventTopics({ abi: kipAssetsAbi, eventName: "ApprovalValue", args: { _tokenId: 1n, _operator: BOB } }) as [Hex, ...Hex[]];
    expect(decodeProtocolLog({ topics: approval, data: encodeAbiParameters([{ type: "uint256" }], [1n]) }, "assets")).toBeNull();
    // A log of the other contract does not decode as this one's event.
    expect(decodeProtocolLog({ topics, data: encodeAbiParameters([{ type: "uint256" }], [42n]) }, "settlement")).toBeNull();
  });
});
