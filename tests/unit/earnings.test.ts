// Figures computed from protocol logs: the slot replay (checked against KipAssets' own accounting rules),
// queries per slot, daily buckets, protocol totals, share percentages, and the log decoding/JSON round trip
// the event index relies on, with a settlement's settled items read from its input and SessionRejected logs.
import { describe, expect, it } from "vitest";
import { encodeAbiParameters, encodeEventTopics, getAddress, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
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
import { chargesOf, decodeProtocolLog, eventKeys, parseEventArgs, serializeEventArgs, settledItems, type EventBody, type EventOf, type ProtocolEvent } from "@/lib/chain/events";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "@/lib/chain/generated";
import { encodeSettle, hashSession, nextVoucherFields, settlementOutcome, signSession, signVoucher, type Session, type SettleItem } from "@/lib/protocol";

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
    /**
     * One settle() of one account's queries (`seq`: each one's account seq): BatchSettled with the settled
     * item read from the input, then KipAssets' credits per slot (net of fee), in the contract's order.
     */
    settle(queries: { seq: bigint; charges: [bigint, bigint][] }[], feeBps = 250n, at?: number) {
      this.tx(at);
      const gross = new Map<bigint, bigint>();
      const records = queries.map((query) => ({
        app: query.charges[0][0],
        charges: query.charges.map(([slot, amount]) => ({ slot, amount })),
        tokensIn: 100,
        tokensOut: 10,
        recordHash: `0x${query.seq.toString(16).padStart(64, "0")}` as Hex,
      }));
      const total = queries.reduce((sum, r) => sum + r.charges.reduce((a, [, amount]) => a + amount, 0n), 0n);
      for (const query of queries) {
        for (const [slot, amount] of query.charges) gross.set(slot, (gross.get(slot) ?? 0n) + amount);
      }
      let fees = 0n;
      const nets: [bigint, bigint][] = [];
      for (const [slot, amount] of gross) {
        const fee = (amount * feeBps) / 10_000n;
        fees += fee;
        nets.push([slot, amount - fee]);
      }
      const item = { index: 0, session: `0x${"22".repeat(32)}` as Hex, payer: PAYER, key: BOB, seq: queries.at(-1)?.seq ?? 0n, total, records };
      this.emit({ name: "BatchSettled", operator: ALICE, settled: 1n, rejected: 0n, gross: total, fees, items: [item] });
      for (const [slot, amount] of nets) this.emit({ name: "RevenueCredited", slot, amount });
    },
  };
}

describe("replaySlot", () => {
  it("credits the holder, keeps earlier revenue with the sender on a split, and pays only later revenue to the receiver", () => {
    const c = chain();
    c.list(1n, 1n);
    c.settle([{ seq: 1n, charges: [[1n, 10_000n]] }]); // net 9,750 -> all to token 1
    c.split(1n, 1n, 2n, BOB, 250_000n); // Bob gets 25 % from now on
    c.settle([{ seq: 2n, charges: [[1n, 10_000n]] }], 250n, DAY2); // net 9,750: 7,312.5 / 2,437.5

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
    c.settle([{ seq: 1n, charges: [[1n, 1_000n], [2n, 5_000n]] }], 0n);
    const before = replaySlot(c.events, 1n);
    expect(ledgerClaimable(before.get(1n)!)).toBe(666n); // 666,667 * 1,000 / 1e6 = 666.667
    expect(ledgerClaimable(before.get(3n)!)).toBe(333n);
    expect(before.has(2n)).toBe(false);

    c.tx();
    c.emit({ name: "RevenueClaimed", tokenId: 1n, owner: ALICE, amount: 666n });
    c.settle([{ seq: 2n, charges: [[1n, 1_000n]] }], 0n);
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
      { seq: 1n, charges: [[1n, 4_000n], [2n, 2_000n]] },
      { seq: 2n, charges: [[1n, 4_000n], [2n, 0n]] }, // dataset 2 offered but not used
    ]);
    c.settle([{ seq: 3n, charges: [[1n, 4_000n]] }], 250n, DAY2);
    const queries = slotQueries(c.events, 2n);
    expect(queries.map((q) => BigInt(q.recordHash))).toEqual([1n]);
    expect(queries[0]).toMatchObject({ payer: PAYER, amount: 2_000n, txHash: c.events.find((e) => e.name === "BatchSettled")!.txHash });
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
  it("reads a settlement's settled items from its input and SessionRejected logs, and restores them from the index", async () => {
    const settlement = getAddress("0x5555555555555555555555555555555555555555");
    const operator = getAddress("0x3333333333333333333333333333333333333333");
    const ctx = { chainId: 31337, settlement };
    const key = privateKeyToAccount(`0x${"42".repeat(32)}`);
    /** One account's item: its payer's session for `operator` and a voucher covering `records`. */
    const itemOf = async (payerKey: Hex, records: SettleItem["records"]): Promise<SettleItem> => {
      const payer = privateKeyToAccount(payerKey);
      const session: Session = { payer: payer.address, key: key.address, operator, spendCap: 1_000_000n, expiry: 2_000_000_000n, nonce: 1n };
      const fields = nextVoucherFields({ seq: 0n, cumulativeMax: 0n }, records.flatMap((r) => r.charges.map((c) => ({ slot: c.slot, max: c.amount }))));
      const voucher = { session: hashSession(session), ...fields, seq: BigInt(records.length), issuedAt: 1_900_000_000n };
      return {
        session,
        sessionSignature: { kind: "key", signature: await signSession(payer, ctx, session) },
        voucher,
        voucherSignature: await signVoucher(key, ctx, voucher),
        records,
      };
    };
    const record = (n: number, charges: [bigint, bigint][]) => ({
      app: charges[0][0],
      charges: charges.map(([slot, amount]) => ({ slot, amount })),
      tokensIn: 10 + n,
      tokensOut: n,
      recordHash: keccak256(toHex(`record ${n}`)),
    });
    const rejected = await itemOf(`0x${"43".repeat(32)}`, [record(1, [[5n, 9_000n]])]);
    const settled = await itemOf(`0x${"44".repeat(32)}`, [record(2, [[5n, 1_000n], [9n, 0n]]), record(3, [[5n, 234n]])]);
    const input = encodeSettle([rejected, settled]);

    // The transaction's logs: the first item skipped (StaleVoucher, 5), then the batch.
    const log = (eventName: "SessionRejected" | "BatchSettled", args: Record<string, unknown>, data: Hex) => ({
      address: settlement as Address,
      topics: encodeEventTopics({ abi: kipSettlementAbi, eventName, args } as never) as [Hex, ...Hex[]],
      data,
    });
    const logs = [
      log("SessionRejected", { item: 0n, session: rejected.voucher.session }, encodeAbiParameters([{ type: "uint8" }], [5])),
      log("BatchSettled", { operator }, encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }, { type: "uint256" }, { type: "uint256" }], [1n, 1n, 1_234n, 30n])),
    ];
    expect(decodeProtocolLog(logs[0], "settlement")).toEqual({ name: "SessionRejected", item: 0, session: rejected.voucher.session, reason: 5 });
    const batch = decodeProtocolLog(logs[1], "settlement");
    expect(batch).toEqual({ name: "BatchSettled", operator, settled: 1n, rejected: 1n, gross: 1_234n, fees: 30n, items: null });
    const outcome = settlementOutcome(input, operator, settlement, logs);
    expect(outcome.map((item) => item.rejected)).toEqual(["StaleVoucher", null]);

    const withItems = { ...(batch as Extract<EventBody, { name: "BatchSettled" }>), items: settledItems(outcome, batch as Extract<EventBody, { name: "BatchSettled" }>) };
    expect(withItems.items).toEqual([
      { index: 1, session: settled.voucher.session, payer: settled.session.payer, key: key.address, seq: 2n, total: 1_234n, records: settled.records },
    ]);
    expect(chargesOf(withItems)).toEqual([{ slot: 5n, amount: 1_000n }, { slot: 9n, amount: 0n }, { slot: 5n, amount: 234n }]);
    expect(parseEventArgs(serializeEventArgs(withItems))).toEqual(withItems);
    expect(eventKeys(withItems)).toEqual({ slot: null, tokenId: null, toTokenId: null, account: null });

    // An outcome that does not account for the log (another call's input) gives no items, never wrong ones.
    expect(settledItems(outcome, { settled: 2n, rejected: 0n, gross: 1_234n })).toBeNull();
    expect(settledItems(outcome, { settled: 1n, rejected: 1n, gross: 1_235n })).toBeNull();
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
