// Earnings on a real chain, through the app's API: queries are produced here with lib/protocol (deposit,
// wallet-signed Session, session-key Vouchers, per-query records, settle from the operator); the reports must equal
// the contracts' views, a claim must move exactly the claimable amount, and shares split to another
// wallet must earn only from revenue settled after the split. Also: the event index holds exactly the
// chain's logs, however often it syncs.
import { parseEventLogs, type Address } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "../../lib/chain/generated";
import { settlementOutcome } from "../../lib/protocol";
import { fetchEvents, readEvents, syncIndex } from "../../lib/chain/indexer";
import type { HoldingsReport, ProtocolReport, SlotReport } from "../../lib/chain/reports";
import { createDb, type Db } from "../../lib/db-client";
import { TestChain, TestPayer, netOf } from "../helpers/queries";

const stack = inject("stack");
const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
const feeBps = stack.deployment.feeBps;
let db: Db;

beforeAll(() => {
  db = createDb(stack.databaseUrl);
});
afterAll(async () => {
  await db?.$disconnect();
});

async function api<T>(path: string, status = 200): Promise<T> {
  const response = await fetch(`${stack.appUrl}${path}`);
  const body = (await response.json()) as T;
  expect(response.status, JSON.stringify(body)).toBe(status);
  return body;
}

const holdings = (owner: Address) => api<HoldingsReport>(`/api/earnings/holders/${owner}`);

/** The protocol figures recomputed straight from the chain's logs up to `toBlock`, independently of the app. */
async function protocolFromLogs(toBlock: number) {
  const range = { fromBlock: BigInt(stack.deployment.startBlock), toBlock: BigInt(toBlock) };
  const [batches, credited, licences] = await Promise.all([
    chain.client.getContractEvents({ address: chain.settlement, abi: kipSettlementAbi, eventName: "BatchSettled", ...range }),
    chain.client.getContractEvents({ address: chain.assets, abi: kipAssetsAbi, eventName: "RevenueCredited", ...range }),
    // Licence purchases pay slots like queries: their price and fee count in what was paid and in fees.
    chain.client.getContractEvents({ address: stack.deployment.licences as Address, abi: kipLicencesAbi, eventName: "LicenceBought", ...range }),
  ]);
  // Every query's record is in the settlement's calldata: decode each settling transaction's input (its
  // sender is the sessions' operator) and keep the items its receipt's SessionRejected logs do not name.
  const records = [];
  for (const txHash of new Set(batches.map((log) => log.transactionHash))) {
    const [tx, receipt] = await Promise.all([chain.client.getTransaction({ hash: txHash }), chain.client.getTransactionReceipt({ hash: txHash })]);
    const items = settlementOutcome(tx.input, tx.from, chain.settlement, receipt.logs);
    const settled = items.filter((item) => item.rejected === null);
    // What the log says settled is exactly what the input and the rejections say.
    const log = batches.find((b) => b.transactionHash === txHash)!;
    expect([BigInt(settled.length), BigInt(items.length - settled.length)]).toEqual([log.args.settled, log.args.rejected]);
    records.push(...settled.flatMap((item) => item.records ?? []));
  }
  return {
    queriesSettled: String(records.length),
    totalPaid: String(records.flatMap((r) => r.charges).reduce((sum, c) => sum + c.amount, 0n) + licences.reduce((sum, log) => sum + log.args.price!, 0n)),
    fees: String(batches.reduce((sum, log) => sum + log.args.fees!, 0n) + licences.reduce((sum, log) => sum + log.args.fee!, 0n)),
    netToHolders: String(credited.reduce((sum, log) => sum + log.args.amount!, 0n)),
  };
}

describe("earnings read from the chain", () => {
  it("reports what settled queries earned, claims exactly that, and pays a split only from later revenue", async () => {
    const creator = await chain.freshAccount();
    const app = await chain.list(creator, 2, 20_000n);
    const dataset = await chain.list(creator, 0, 5_000n);
    const payer = await TestPayer.create(chain, 1_000_000n);
    const protocolBefore = await api<ProtocolReport>("/api/earnings/protocol");

    await payer.settleQueries(3, [
      [app.slot, 20_000n],
      [dataset.slot, 5_000n],
    ]);
    const appNet = netOf(60_000n, feeBps);
    const datasetNet = netOf(15_000n, feeBps);

    let report = await holdings(creator.address);
    expect(report.token.decimals).toBe(6);
    expect(report.token.symbol).toBe("mUSD");
    expect(report.tokens.map((t) => t.tokenId)).toEqual([app.tokenId.toString(), dataset.tokenId.toString()]);
    const [appToken, datasetToken] = report.tokens;
    expect(appToken.asset.kind).toBe("app");
    expect(datasetToken.asset.kind).toBe("dataset");
    expect(appToken.shares).toBe("1000000");
    expect(appToken.sharePercent).toBe("100");
    expect(appToken.claimable).toBe(appNet.toString());
    expect(appToken.claimable).toBe((await chain.claimable(app.tokenId)).toString());
    expect(datasetToken.claimable).toBe(datasetNet.toString());
    expect(appToken.totalEarned).toBe(appNet.toString());
    expect(appToken.queriesServed).toBe(3);
    expect(appToken.recentQueries.map((q) => q.amount)).toEqual(["20000", "20000", "20000"]);
    expect(appToken.recentQueries.every((q) => q.payer === payer.account.address)).toBe(true);
    expect(appToken.earnings.at(-1)!.cumulativeScaled).toBe((appNet * 1_000_000n).toString());
    expect(appToken.matchesChain && datasetToken.matchesChain).toBe(true);
    expect(report.totals.claimable).toBe((appNet + datasetNet).toString());
    expect(report.created.map((a) => a.slot)).toEqual([app.slot.toString(), dataset.slot.toString()]);

    // The stack's settlement worker may settle other tests' receipts meanwhile: the protocol page must
    // equal the logs at its own head block, and include at least this test's queries.
    const protocolAfter = await api<ProtocolReport>("/api/earnings/protocol");
    const { queriesSettled, totalPaid, fees, netToHolders } = protocolAfter;
    expect({ queriesSettled, totalPaid, fees, netToHolders }).toEqual(await protocolFromLogs(protocolAfter.headBlock));
    expect(BigInt(protocolAfter.queriesSettled) - BigInt(protocolBefore.queriesSettled)).toBeGreaterThanOrEqual(3n);
    expect(BigInt(protocolAfter.totalPaid) - BigInt(protocolBefore.totalPaid)).toBeGreaterThanOrEqual(75_000n);

    // Claim both tokens in one transaction: the wallet receives exactly what was claimable.
    const before = await chain.usdBalance(creator.address);
    await chain.send(creator, { address: chain.assets, abi: kipAssetsAbi, functionName: "claimMany", args: [[app.tokenId, dataset.tokenId]] });
    expect((await chain.usdBalance(creator.address)) - before).toBe(appNet + datasetNet);
    report = await holdings(creator.address);
    expect(report.totals.claimable).toBe("0");
    expect(report.totals.claimed).toBe((appNet + datasetNet).toString());
    expect(report.totals.totalEarned).toBe((appNet + datasetNet).toString());
    expect(report.tokens[0].claims).toHaveLength(1);

    // Split a quarter of the app's shares to a second wallet: it starts with nothing.
    const second = await chain.freshAccount();
    const split = await chain.send(creator, { address: chain.assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [app.tokenId, second.address, 250_000n] });
    const minted = parseEventLogs({ abi: kipAssetsAbi, eventName: "Transfer", logs: split.logs })[0].args.tokenId;
    let secondReport = await holdings(second.address);
    expect(secondReport.tokens.map((t) => [t.tokenId, t.shares, t.claimable])).toEqual([[minted.toString(), "250000", "0"]]);

    // Later revenue is shared 75 / 25.
    await payer.settleQueries(1, [[app.slot, 20_000n]]);
    const laterNet = netOf(20_000n, feeBps);
    secondReport = await holdings(second.address);
    report = await holdings(creator.address);
    const secondClaimable = (laterNet * 250_000n) / 1_000_000n;
    const creatorClaimable = (laterNet * 750_000n) / 1_000_000n;
    expect(secondReport.tokens[0].claimable).toBe(secondClaimable.toString());
    expect(await chain.claimable(minted)).toBe(secondClaimable);
    expect(report.tokens[0].claimable).toBe(creatorClaimable.toString());
    expect(await chain.claimable(app.tokenId)).toBe(creatorClaimable);
    expect(report.tokens[0].shares).toBe("750000");
    expect(secondReport.tokens[0].matchesChain && report.tokens[0].matchesChain).toBe(true);
    expect(secondReport.tokens[0].earnings).toHaveLength(1);

    // The asset's own view: 4 queries, two holders, one price.
    const slotReport = await api<SlotReport>(`/api/earnings/slots/${app.slot}`);
    expect(slotReport.queries).toBe(4);
    expect(slotReport.asset.revenue).toBe((appNet + laterNet).toString());
    expect(slotReport.holders.map((h) => [h.tokenId, h.owner, h.shares])).toEqual([
      [app.tokenId.toString(), creator.address, "750000"],
      [minted.toString(), second.address, "250000"],
    ]);
    expect(slotReport.priceHistory.map((p) => p.price)).toEqual(["20000"]);
    expect(slotReport.daily.reduce((n, d) => n + d.queries, 0)).toBe(4);
    expect(slotReport.daily.reduce((n, d) => n + BigInt(d.net), 0n)).toBe(appNet + laterNet);

    // A price edit by the creator shows up in the history.
    await chain.send(creator, { address: chain.assets, abi: kipAssetsAbi, functionName: "setPrice", args: [app.slot, 30_000n] });
    const repriced = await api<SlotReport>(`/api/earnings/slots/${app.slot}`);
    expect(repriced.asset.pricePerQuery).toBe("30000");
    expect(repriced.priceHistory.map((p) => p.price)).toEqual(["20000", "30000"]);
  });

  it("answers malformed or unknown input with a clear error", async () => {
    const bad = await api<{ error: { code: string; message: string } }>("/api/earnings/holders/0x1234", 400);
    expect(bad.error.message).toMatch(/address/);
    await api("/api/earnings/slots/0", 400);
    await api("/api/earnings/slots/abc", 400);
    const missing = await api<{ error: { message: string } }>("/api/earnings/slots/999999", 404);
    expect(missing.error.message).toMatch(/not listed/);
    await api("/api/earnings/protocol?top=0", 400);
  });

  it("keeps exactly the chain's protocol logs in the event index, however often it syncs", async () => {
    const source = { db, client: chain.client, deployment: stack.deployment };
    const first = await syncIndex(source);
    const second = await syncIndex(source);
    expect(second.storedBlock).toBe(first.storedBlock);
    const names = ["AssetListed", "PriceUpdated", "Transfer", "TransferValue", "SlotChanged", "RevenueCredited", "RevenueClaimed", "SessionRejected", "BatchSettled", "LicenceBought"] as const;
    const indexed = await readEvents(db, second, { names });
    const fromChain = await fetchEvents(chain.client, stack.deployment, stack.deployment.startBlock, second.headBlock);
    expect(indexed).toEqual(fromChain);
    expect(indexed.length).toBeGreaterThan(0);
    // Every settlement's queries were read from its input: none is left unknown.
    const batches = indexed.filter((event) => event.name === "BatchSettled");
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((event) => event.items !== null && BigInt(event.items.length) === event.settled)).toBe(true);
  });
});
