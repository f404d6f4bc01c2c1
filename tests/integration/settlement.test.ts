// End to end on a real chain with lib/protocol's encoders against the real contract: a deposit for an
// operator, a wallet-signed Session naming it, session-key Vouchers with the account's running maximum,
// per-query records in the calldata, settle, each item's outcome read back from the chain alone, the
// account on chain, balances, conservation, claimable, claim. The attacks: the payer settling its own
// competing voucher, a stranger front-running the operator's exact calldata, an older voucher settled late,
// the same batch replayed, a second device of the account sharing its sequence, two vouchers with the same
// seq, a session signed for another operator, a voucher issued after its session's revocation, a voucher
// below its records, a payer short of balance: each rejected item in the middle of a batch moves nothing,
// and every unit the settled ones debit is credited to a slot or to the fees, exactly. A smart-wallet
// payer's session signature (ERC-1271, not 65 bytes) travels unchanged, once. Uses the shared test stack
// when it is provided, else starts its own anvil and runs the same deploy script.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  concatHex,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  http,
  parseEther,
  type Abi,
  type Address,
  type Hex,
  type Log,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import {
  encodeSettle,
  hashSession,
  isSignedByPayer,
  nextVoucherFields,
  recordHash,
  sessionDigest,
  settlementOutcome,
  signSession,
  signVoucher,
  verifySession,
  verifyVoucher,
  voucherDigest,
  type AccountPosition,
  type QueryRecord,
  type Session,
  type SettleItem,
  type Voucher,
} from "../../lib/protocol";
import { ANVIL_KEYS, startAnvil } from "../../scripts/stack/anvil";
import { deployContracts } from "../../scripts/stack/deploy";
import { freePort } from "../../scripts/stack/process";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const artifact = (file: string, name: string): { abi: Abi; bytecode: { object: Hex } } =>
  JSON.parse(fs.readFileSync(path.join(ROOT, "contracts", "out", `${file}.sol`, `${name}.json`), "utf8"));
const abi = (name: string): Abi => artifact(name, name).abi;

const assetsAbi = abi("KipAssets");
const settlementAbi = abi("KipSettlement");
const usdAbi = abi("MockUSD");

let rpcUrl: string;
let chainId: number;
let addresses: { assets: Address; settlement: Address; usd: Address; feeBps: number };
let stopOwnChain: (() => Promise<void>) | undefined;
let client: PublicClient;

function sharedStack() {
  try {
    return inject("stack");
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const stack = sharedStack();
  if (stack) {
    rpcUrl = stack.rpcUrl;
    chainId = stack.chainId;
    addresses = {
      assets: stack.deployment.assets as Address,
      settlement: stack.deployment.settlement as Address,
      usd: stack.deployment.paymentToken as Address,
      feeBps: stack.deployment.feeBps,
    };
  } else {
    const anvil = await startAnvil({ port: await freePort() });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-settlement-test-"));
    stopOwnChain = async () => {
      await anvil.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    const deployment = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      privateKey: ANVIL_KEYS[0],
      deploymentFile: path.join(dir, "deployment.json"),
    });
    rpcUrl = anvil.rpcUrl;
    chainId = anvil.chainId;
    addresses = {
      assets: deployment.assets as Address,
      settlement: deployment.settlement as Address,
      usd: deployment.paymentToken as Address,
      feeBps: deployment.feeBps,
    };
  }
  client = createPublicClient({ chain: { ...foundry, id: chainId }, transport: http(rpcUrl) }) as PublicClient;
}, 180_000);

afterAll(async () => {
  await stopOwnChain?.();
});

/** A fresh account with test ETH (anvil_setBalance: no shared account nonces are used). */
async function freshAccount(): Promise<PrivateKeyAccount> {
  const account = privateKeyToAccount(generatePrivateKey());
  await client.request({ method: "anvil_setBalance" as never, params: [account.address, `0x${parseEther("10").toString(16)}`] as never });
  return account;
}

/** Sends from a key, or from an address anvil impersonates (a contract or the deployment's owner). */
async function send(account: PrivateKeyAccount | Address, address: Address, contractAbi: Abi, functionName: string, args: unknown[]) {
  const chain = { ...foundry, id: chainId };
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const hash = await wallet.writeContract({ address, abi: contractAbi, functionName, args, chain, account });
  const receipt = await client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

function events(logs: Log[], address: Address, contractAbi: Abi) {
  return logs
    .filter((log) => log.address.toLowerCase() === address.toLowerCase())
    .map((log) => decodeEventLog({ abi: contractAbi, data: log.data, topics: log.topics }))
    .map((event) => ({ name: String(event.eventName), args: event.args as unknown as Record<string, unknown> }));
}

const read = (address: Address, contractAbi: Abi, functionName: string, args: unknown[] = []) =>
  client.readContract({ address, abi: contractAbi, functionName, args }) as Promise<unknown>;

/** Runs `fn` while anvil lets anyone send as `address`. */
async function impersonating<T>(address: Address, fn: () => Promise<T>): Promise<T> {
  await client.request({ method: "anvil_impersonateAccount" as never, params: [address] as never });
  try {
    return await fn();
  } finally {
    await client.request({ method: "anvil_stopImpersonatingAccount" as never, params: [address] as never });
  }
}

/** Sends a prepared `settle` calldata from `account`; returns the receipt and each item's outcome, read from the chain. */
async function sendSettle(account: PrivateKeyAccount, settlement: Address, data: Hex) {
  const chain = { ...foundry, id: chainId };
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const hash = await wallet.sendTransaction({ to: settlement, data, chain, account });
  const receipt = await client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  const tx = await client.getTransaction({ hash });
  return { receipt, outcomes: settlementOutcome(tx.input, tx.from, settlement, receipt.logs) };
}

/** The contract's books balance: it holds exactly the deposits and the unclaimed fees. */
async function expectConservation() {
  const { settlement, usd } = addresses;
  const [held, deposits, fees] = await Promise.all([
    read(usd, usdAbi, "balanceOf", [settlement]),
    read(settlement, settlementAbi, "totalDeposits"),
    read(settlement, settlementAbi, "feesAccrued"),
  ]);
  expect(held).toBe((deposits as bigint) + (fees as bigint));
}

type AccountOnChain = { balance: bigint; seq: bigint; charged: bigint; revokedUntil: bigint | number };
/** The account on chain, its seq as a bigint (the ABI's uint40 reads as a number). */
const accountOf = async (payer: Address, operator: Address): Promise<AccountOnChain> => {
  const account = (await read(addresses.settlement, settlementAbi, "accountOf", [payer, operator])) as AccountOnChain;
  return { ...account, seq: BigInt(account.seq) };
};

/** Lists one asset per price from a fresh creator; returns the slots and tokens. */
async function listAssets(assets: Address, prices: [number, bigint][]) {
  const creator = await freshAccount();
  const slots: bigint[] = [];
  const tokens: bigint[] = [];
  for (const [kind, price] of prices) {
    const r = await send(creator, assets, assetsAbi, "list", [kind, price, `http://localhost:3000/api/metadata/x-${kind}`, `0x${"11".repeat(32)}`]);
    const listed = events(r.logs, assets, assetsAbi).find((e) => e.name === "AssetListed")!;
    slots.push(listed.args.slot as bigint);
    tokens.push(listed.args.tokenId as bigint);
  }
  return { creator, slots, tokens };
}

/** A payer with `deposit` for `operator` and a wallet-signed session for a browser key. */
async function payerWithSession(operator: Address, deposit: bigint, spendCap = 500_000n) {
  const { settlement, usd } = addresses;
  const payer = await freshAccount();
  await send(payer, usd, usdAbi, "mint", [payer.address, deposit]);
  await send(payer, usd, usdAbi, "approve", [settlement, deposit]);
  await send(payer, settlement, settlementAbi, "deposit", [operator, deposit]);
  const key = privateKeyToAccount(generatePrivateKey()); // browser-held, never funded
  const block = await client.getBlock();
  const session: Session = { payer: payer.address, key: key.address, operator, spendCap, expiry: block.timestamp + 3600n, nonce: 1n };
  const signature = await signSession(payer, { chainId, settlement }, session);
  return { payer, key, session, signature, id: hashSession(session) };
}

/** The account's voucher after one more query charging `charges` (slot, max), signed by the session key. */
async function voucherAfter(who: Awaited<ReturnType<typeof payerWithSession>>, previous: AccountPosition | null, charges: { slot: bigint; max: bigint }[]) {
  const fields = nextVoucherFields(previous ?? { seq: 0n, cumulativeMax: 0n }, charges);
  const voucher: Voucher = { session: who.id, ...fields, issuedAt: (await client.getBlock()).timestamp };
  const state: AccountPosition = { seq: fields.seq, cumulativeMax: fields.cumulativeMax };
  return { state, voucher, signature: await signVoucher(who.key, { chainId, settlement: addresses.settlement }, voucher) };
}

const keySigned = (who: { signature: Hex }) => ({ kind: "key" as const, signature: who.signature });

const record = (app: bigint, charges: [bigint, bigint][], n: number): QueryRecord => ({
  app,
  charges: charges.map(([slot, amount]) => ({ slot, amount })),
  tokensIn: 1200 + n,
  tokensOut: 300 + n,
  recordHash: recordHash({ id: `answer-${n}`, question: `question ${n}`, answer: `answer ${n}`, passages: [`chunk-${n}`] }),
});

describe("settlement on a real chain", () => {
  it("settles the account's newest voucher with the queries' records, which anyone can read back from the calldata", async () => {
    const { assets, settlement, feeBps } = addresses;
    const ctx = { chainId, settlement };
    const operator = await freshAccount();
    // Four listings: app, model, two datasets.
    const { slots, tokens } = await listAssets(assets, [
      [2, 20_000n],
      [1, 10_000n],
      [0, 5_000n],
      [0, 5_000n],
    ]);
    const [app, model, d1, d2] = slots;
    const who = await payerWithSession(operator.address, 1_000_000n);
    expect(await verifySession(ctx, who.session, who.signature)).toBe(true);
    expect(await read(settlement, settlementAbi, "hashSession", [who.session])).toBe(who.id);

    // Three queries, each signing its maximum; the second used one dataset, the third was stopped.
    const perQuery = slots.map((slot, i) => ({ slot, max: [20_000n, 10_000n, 5_000n, 5_000n][i] }));
    const v1 = await voucherAfter(who, null, perQuery);
    const v2 = await voucherAfter(who, v1.state, perQuery);
    const v3 = await voucherAfter(who, v2.state, perQuery);
    expect(v3.state).toEqual({ seq: 3n, cumulativeMax: 120_000n });
    expect(await read(settlement, settlementAbi, "voucherDigest", [v3.voucher])).toBe(voucherDigest(ctx, v3.voucher));
    expect(await verifyVoucher(ctx, v3.voucher, v3.signature, who.key.address)).toBe(true);
    const records = [
      record(app, [[app, 20_000n], [model, 7_321n], [d1, 5_000n], [d2, 5_000n]], 1),
      record(app, [[app, 20_000n], [model, 9_004n], [d2, 5_000n]], 2),
      record(app, [[app, 20_000n], [model, 1_117n], [d1, 5_000n]], 3),
    ];
    const item: SettleItem = { session: who.session, sessionSignature: keySigned(who), voucher: v3.voucher, voucherSignature: v3.signature, records };
    const data = encodeSettle([item]);
    const { receipt, outcomes } = await sendSettle(operator, settlement, data);
    const gross = 60_000n + 7_321n + 9_004n + 1_117n + 10_000n + 10_000n;
    expect(events(receipt.logs, settlement, settlementAbi).find((e) => e.name === "BatchSettled")!.args).toMatchObject({ settled: 1n, rejected: 0n, gross });
    // From the chain alone: the item settled, with every query's record and the session as the payer signed it.
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ index: 0, rejected: null, session: who.session, records });
    expect(outcomes[0].voucher).toEqual(v3.voucher);
    expect(await accountOf(who.payer.address, operator.address)).toMatchObject({ balance: 1_000_000n - gross, seq: 3n, charged: gross });
    const appNet = 60_000n - (60_000n * BigInt(feeBps)) / 10_000n;
    expect(await read(assets, assetsAbi, "claimable", [tokens[0]])).toBe(appNet);
    await expectConservation();

    // The same settlement again: its voucher is not newer than what the account settled, nothing is charged twice.
    expect((await sendSettle(operator, settlement, data)).outcomes[0].rejected).toBe("StaleVoucher");
    // An older voucher settled late changes nothing either.
    const r4 = record(app, [[app, 20_000n], [model, 2_000n]], 4);
    const stale = encodeSettle([{ ...item, voucher: v2.voucher, voucherSignature: v2.signature, records: [r4] }]);
    expect((await sendSettle(operator, settlement, stale)).outcomes[0].rejected).toBe("StaleVoucher");
    // A second device of the same payer signs the account's next voucher; it settles on top of the first.
    const laptopKey = privateKeyToAccount(generatePrivateKey());
    const laptop = { ...who, key: laptopKey, session: { ...who.session, key: laptopKey.address, nonce: 2n } };
    const laptopSigned = { ...laptop, id: hashSession(laptop.session), signature: await signSession(who.payer, ctx, laptop.session) };
    const v4 = await voucherAfter(laptopSigned, v3.state, perQuery);
    const next = encodeSettle([{ session: laptopSigned.session, sessionSignature: keySigned(laptopSigned), voucher: v4.voucher, voucherSignature: v4.signature, records: [r4] }]);
    expect((await sendSettle(operator, settlement, next)).outcomes[0].rejected).toBeNull();
    expect(await accountOf(who.payer.address, operator.address)).toMatchObject({ balance: 1_000_000n - gross - 22_000n, seq: 4n, charged: gross + 22_000n });
    await expectConservation();

    // The holder claims; anyone may trigger it, the owner is paid.
    const claimed = events((await send(operator, assets, assetsAbi, "claim", [tokens[0]])).logs, assets, assetsAbi).find((e) => e.name === "RevenueClaimed")!;
    expect(claimed.args.amount).toBe(appNet + 20_000n - (20_000n * BigInt(feeBps)) / 10_000n);
  });

  it("lets nobody but the operator settle: not the payer's own zero-charge voucher, not a stranger replaying the operator's calldata", async () => {
    const { assets, settlement } = addresses;
    const operator = await freshAccount();
    const { slots } = await listAssets(assets, [
      [2, 20_000n],
      [1, 10_000n],
    ]);
    const [app, model] = slots;
    const who = await payerWithSession(operator.address, 100_000n);
    const perQuery = [
      { slot: app, max: 20_000n },
      { slot: model, max: 10_000n },
    ];
    const v1 = await voucherAfter(who, null, perQuery);
    const real: SettleItem = {
      session: who.session,
      sessionSignature: keySigned(who),
      voucher: v1.voucher,
      voucherSignature: v1.signature,
      records: [record(app, [[app, 20_000n], [model, 8_000n]], 1)],
    };
    // The payer holds the session key: it signs a competing voucher 1 and settles it with zero charges.
    // Sent by the payer, the session reads as naming the payer as its operator: another session, whose
    // voucher the key never signed.
    const own = await voucherAfter(who, null, perQuery);
    const selfSettle = encodeSettle([{ ...real, voucher: own.voucher, voucherSignature: own.signature, records: [record(app, [[app, 0n], [model, 0n]], 1)] }]);
    expect((await sendSettle(who.payer, settlement, selfSettle)).outcomes[0].rejected).toBe("BadSignature");
    // A stranger who saw the operator's transaction sends the exact same calldata first.
    const data = encodeSettle([real]);
    const stranger = await freshAccount();
    expect((await sendSettle(stranger, settlement, data)).outcomes[0].rejected).toBe("BadSignature");
    expect(await accountOf(who.payer.address, operator.address)).toMatchObject({ balance: 100_000n, seq: 0n, charged: 0n });
    // The operator's own settlement is untouched by both.
    expect((await sendSettle(operator, settlement, data)).outcomes[0].rejected).toBeNull();
    expect(await accountOf(who.payer.address, operator.address)).toMatchObject({ balance: 72_000n, seq: 1n, charged: 28_000n });
    await expectConservation();
  });

  it("settles a batch of accounts exactly, item by item: every unit debited is credited to a slot or the fees, and a rejected item in the middle moves nothing", async () => {
    const { assets, settlement, usd, feeBps } = addresses;
    const ctx = { chainId, settlement };
    const operator = await freshAccount();
    const { slots } = await listAssets(assets, [
      [2, 20_000n],
      [1, 10_000n],
      [0, 5_000n],
      [0, 5_000n],
    ]);
    const [app, model, d1, d2] = slots;
    const perQuery = slots.map((slot, i) => ({ slot, max: [20_000n, 10_000n, 5_000n, 5_000n][i] }));
    const item = async (who: Awaited<ReturnType<typeof payerWithSession>>, records: QueryRecord[], voucher?: Awaited<ReturnType<typeof voucherAfter>>): Promise<SettleItem> => {
      let last = voucher;
      if (!last) {
        let at: AccountPosition | null = null;
        for (let i = 0; i < records.length; i++) {
          last = await voucherAfter(who, at, perQuery);
          at = last.state;
        }
      }
      return { session: who.session, sessionSignature: keySigned(who), voucher: last!.voucher, voucherSignature: last!.signature, records };
    };
    let n = 100;
    const query = (charges: [bigint, bigint][]) => record(app, charges, n++);

    // Settles: three queries of one device.
    const alice = await payerWithSession(operator.address, 1_000_000n);
    const aliceItem = await item(alice, [query([[app, 20_000n], [model, 3_001n], [d1, 5_000n]]), query([[app, 20_000n], [model, 9_999n]]), query([[app, 20_000n], [model, 1n], [d2, 5_000n]])]);
    // Two devices of one payer both sign the account's voucher 1: the first settles, the second is stale.
    const bob = await payerWithSession(operator.address, 1_000_000n);
    const laptopKey = privateKeyToAccount(generatePrivateKey());
    const laptopSession = { ...bob.session, key: laptopKey.address, nonce: 2n };
    const bobLaptop = { ...bob, key: laptopKey, session: laptopSession, id: hashSession(laptopSession), signature: await signSession(bob.payer, ctx, laptopSession) };
    const bobPhoneItem = await item(bob, [query([[app, 20_000n], [model, 4_444n]])]);
    const bobLaptopItem = await item(bobLaptop, [query([[app, 20_000n], [model, 5_555n], [d1, 5_000n]])]);
    // A voucher below what its records charge.
    const carol = await payerWithSession(operator.address, 1_000_000n);
    const low = await voucherAfter(carol, null, [{ slot: app, max: 10_000n }]);
    const carolItem = await item(carol, [query([[app, 20_000n]])], low);
    // A session the payer signed for another operator: under this sender it is another session, whose voucher its key never signed.
    const elsewhere = await freshAccount();
    const dave = await payerWithSession(elsewhere.address, 1_000_000n);
    const daveItem = await item(dave, [query([[app, 20_000n]])]);
    // A voucher issued after its session was revoked.
    const erin = await payerWithSession(operator.address, 1_000_000n);
    await send(erin.payer, settlement, settlementAbi, "revokeSession", [erin.session]);
    const revokedAt = (await read(settlement, settlementAbi, "revokedAt", [erin.id])) as bigint;
    const erinVoucher: Voucher = { session: erin.id, ...nextVoucherFields({ seq: 0n, cumulativeMax: 0n }, perQuery), issuedAt: revokedAt };
    const erinItem: SettleItem = {
      session: erin.session,
      sessionSignature: keySigned(erin),
      voucher: erinVoucher,
      voucherSignature: await signVoucher(erin.key, ctx, erinVoucher),
      records: [query([[app, 20_000n]])],
    };
    // More than the balance.
    const frank = await payerWithSession(operator.address, 30_000n);
    const frankItem = await item(frank, [query([[app, 20_000n], [model, 1_000n]]), query([[app, 20_000n]])]);
    // And one more that settles after all the rejected ones.
    const gina = await payerWithSession(operator.address, 1_000_000n);
    const ginaItem = await item(gina, [query([[app, 20_000n], [model, 7_777n], [d1, 5_000n], [d2, 5_000n]])]);

    const items = [aliceItem, bobPhoneItem, bobLaptopItem, carolItem, daveItem, erinItem, frankItem, ginaItem];
    const payers = [alice, bob, bob, carol, dave, erin, frank, gina].map((w) => w.payer.address);
    // Read just before and just after the settlement's block (one transaction per block), so that
    // nothing else on the shared chain counts in the differences.
    const at = (blockNumber: bigint) => (address: Address, contractAbi: Abi, functionName: string, args: unknown[] = []) =>
      client.readContract({ address, abi: contractAbi, functionName, args, blockNumber }) as Promise<unknown>;
    const state = async (blockNumber: bigint) => {
      const readAt = at(blockNumber);
      return Promise.all([
        Promise.all(slots.map(async (slot) => ((await readAt(assets, assetsAbi, "slotInfo", [slot])) as { revenue: bigint }).revenue)),
        Promise.all(payers.map((payer) => readAt(settlement, settlementAbi, "balanceOf", [payer, operator.address]) as Promise<bigint>)),
        Promise.all([readAt(settlement, settlementAbi, "totalDeposits"), readAt(settlement, settlementAbi, "feesAccrued"), readAt(usd, usdAbi, "balanceOf", [assets])]) as Promise<bigint[]>,
      ]);
    };

    const data = encodeSettle(items);
    const { receipt, outcomes } = await sendSettle(operator, settlement, data);
    const [revenueBefore, balancesBefore, [depositsBefore, feesBefore, assetsHeldBefore]] = await state(receipt.blockNumber - 1n);
    expect(outcomes.map((o) => o.rejected)).toEqual([null, null, "StaleVoucher", "AboveMax", "BadSignature", "Revoked", "InsufficientBalance", null]);
    // Read back from the calldata alone, every item is what was sent, with the sender as its session's operator.
    outcomes.forEach((o, i) => {
      expect(o.index).toBe(i);
      expect(o.records).toEqual(items[i].records);
      expect(o.session).toEqual({ ...items[i].session, operator: operator.address });
      expect(o.voucher).toEqual({ ...items[i].voucher, session: hashSession({ ...items[i].session, operator: operator.address }) });
    });
    // The one of another operator reads as a session it never was: not the one its payer signed.
    expect(outcomes[4].voucher.session).not.toBe(dave.id);

    // What settled, per table entry: gross, the fee rounded down per entry, the net credited.
    const settled = outcomes.filter((o) => o.rejected === null);
    const gross = slots.map((slot) => settled.flatMap((o) => o.records!.flatMap((r) => r.charges)).reduce((sum, c) => (c.slot === slot ? sum + c.amount : sum), 0n));
    const fees = gross.map((g) => (g * BigInt(feeBps)) / 10_000n);
    const grossTotal = gross.reduce((a, b) => a + b, 0n);
    const feeTotal = fees.reduce((a, b) => a + b, 0n);
    expect(events(receipt.logs, settlement, settlementAbi).find((e) => e.name === "BatchSettled")!.args).toEqual({ operator: operator.address, settled: 3n, rejected: 5n, gross: grossTotal, fees: feeTotal });

    const [revenueAfter, balancesAfter, [depositsAfter, feesAfter, assetsHeldAfter]] = await state(receipt.blockNumber);
    expect(revenueAfter.map((r, i) => r - revenueBefore[i])).toEqual(gross.map((g, i) => g - fees[i]));
    const itemTotal = (o: (typeof outcomes)[number]) => (o.rejected === null ? o.records!.flatMap((r) => r.charges).reduce((a, c) => a + c.amount, 0n) : 0n);
    // Each payer is debited its settled items' totals, and nothing for a rejected one (bob's two items are one account).
    const debited = new Map<Address, bigint>();
    outcomes.forEach((o, i) => debited.set(payers[i], (debited.get(payers[i]) ?? 0n) + itemTotal(o)));
    payers.forEach((payer, i) => expect(balancesBefore[i] - balancesAfter[i]).toBe(debited.get(payer)));
    const debitedTotal = [...debited.values()].reduce((a, b) => a + b, 0n);
    expect(debitedTotal).toBe(grossTotal);
    // Every unit debited is credited to a slot (paid to KipAssets) or to the fees.
    expect(depositsBefore - depositsAfter).toBe(debitedTotal);
    expect(assetsHeldAfter - assetsHeldBefore + (feesAfter - feesBefore)).toBe(debitedTotal);
    expect(feesAfter - feesBefore).toBe(feeTotal);
    await expectConservation();
    // The accounts that settled moved to their vouchers' seq and cumulative totals; the others did not move.
    expect(await accountOf(alice.payer.address, operator.address)).toMatchObject({ seq: 3n, charged: itemTotal(outcomes[0]) });
    expect(await accountOf(bob.payer.address, operator.address)).toMatchObject({ seq: 1n, charged: itemTotal(outcomes[1]) });
    for (const who of [carol, erin, frank]) expect(await accountOf(who.payer.address, operator.address)).toMatchObject({ seq: 0n, charged: 0n });
  });

  it("approves a smart-wallet payer's session from its ERC-1271 signature, sent unchanged, once", async () => {
    const { assets, settlement, usd } = addresses;
    const ctx = { chainId, settlement };
    const operator = await freshAccount();
    const owner = privateKeyToAccount(generatePrivateKey()); // the wallet's signer
    const sessionKey = privateKeyToAccount(generatePrivateKey());
    const { slots } = await listAssets(assets, [[2, 20_000n]]);
    const slot = slots[0];

    // A contract wallet (contracts/test/utils/MockWallets.sol) that approves what its owner signed; it
    // deposits through anvil's impersonation, as its owner would through the wallet.
    const wallet = artifact("MockWallets", "SignerWallet");
    const deployer = await freshAccount();
    const deployHash = await createWalletClient({ account: deployer, chain: { ...foundry, id: chainId }, transport: http(rpcUrl) }).deployContract({
      abi: wallet.abi,
      bytecode: wallet.bytecode.object,
      args: [owner.address],
    });
    const walletAddress = (await client.waitForTransactionReceipt({ hash: deployHash })).contractAddress!;
    await client.request({ method: "anvil_setBalance" as never, params: [walletAddress, `0x${parseEther("1").toString(16)}`] as never });
    await impersonating(walletAddress, async () => {
      await send(walletAddress, usd, usdAbi, "mint", [walletAddress, 100_000n]);
      await send(walletAddress, usd, usdAbi, "approve", [settlement, 100_000n]);
      await send(walletAddress, settlement, settlementAbi, "deposit", [operator.address, 100_000n]);
    });

    const block = await client.getBlock();
    const session: Session = { payer: walletAddress, key: sessionKey.address, operator: operator.address, spendCap: 100_000n, expiry: block.timestamp + 3600n, nonce: 1n };
    // Not an EOA signature: the owner's signature of the session digest plus wallet-specific bytes (69 bytes).
    const signature = concatHex([await owner.sign({ hash: sessionDigest(ctx, session) }), "0xdeadbeef"]);
    expect(await verifySession(ctx, session, signature)).toBe(false); // no EOA signed it
    // The server's check (lib/protocol/signature.ts, run when the session is registered) takes the
    // wallet's approval as the contract does, and nothing the contract would refuse.
    const digest = sessionDigest(ctx, session);
    expect(await isSignedByPayer(client, walletAddress, digest, signature, settlement)).toBe(true);
    expect(await isSignedByPayer(client, walletAddress, sessionDigest(ctx, { ...session, spendCap: 1n }), signature, settlement)).toBe(false);
    for (const hostile of ["GasBurnerWallet", "RevertingWallet", "WrongMagicWallet"]) {
      const built = artifact("MockWallets", hostile);
      const hash = await createWalletClient({ account: deployer, chain: { ...foundry, id: chainId }, transport: http(rpcUrl) }).deployContract({ abi: built.abi, bytecode: built.bytecode.object });
      const address = (await client.waitForTransactionReceipt({ hash })).contractAddress!;
      expect(await isSignedByPayer(client, address, digest, signature, settlement)).toBe(false);
    }
    const id = hashSession(session);
    const sign = async (voucher: Voucher) => signVoucher(sessionKey, ctx, voucher);
    const v1: Voucher = { session: id, ...nextVoucherFields({ seq: 0n, cumulativeMax: 0n }, [{ slot, max: 20_000n }]), issuedAt: block.timestamp };
    const first = await sendSettle(
      operator,
      settlement,
      encodeSettle([{ session, sessionSignature: { kind: "wallet", signature }, voucher: v1, voucherSignature: await sign(v1), records: [record(slot, [[slot, 20_000n]], 1)] }]),
    );
    expect(first.outcomes[0].rejected).toBeNull();
    expect(events(first.receipt.logs, settlement, settlementAbi).filter((e) => e.name === "SessionApproved")).toHaveLength(1);
    expect(await read(settlement, settlementAbi, "walletApproved", [id])).toBe(true);
    // Approved once: the next settlement of the session carries no signature at all.
    const v2: Voucher = { session: id, ...nextVoucherFields({ seq: 1n, cumulativeMax: 20_000n }, [{ slot, max: 20_000n }]), issuedAt: block.timestamp };
    const second = await sendSettle(
      operator,
      settlement,
      encodeSettle([{ session, sessionSignature: { kind: "wallet", signature: "0x" }, voucher: v2, voucherSignature: await sign(v2), records: [record(slot, [[slot, 5_000n]], 2)] }]),
    );
    expect(second.outcomes[0].rejected).toBeNull();
    expect(await read(settlement, settlementAbi, "balanceOf", [walletAddress, operator.address])).toBe(75_000n);
    await expectConservation();
  });
});
