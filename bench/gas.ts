// Gas benchmark on a real local chain: `npx tsx bench/gas.ts` (or `npm run bench`).
// Starts anvil, deploys with the forge script and measures from transaction receipts (gasUsed: the 21,000
// base and calldata included), with the realistic mix of the payments issue:
//   - 5 apps, each with its own set of 2-4 datasets (of 8) and one of 2 models, token-metered;
//   - 50 sessions (50 payers), 1-40 queries each (mean about 10, deterministic), about half of an app's
//     datasets in the context of each query, model amounts that differ per query;
//   - one settlement transaction of all 50 sessions' newest vouchers with their records, first for fresh
//     sessions (each session's wallet signature is verified: the worst realistic case), then again for the
//     same sessions' next queries (already registered);
//   - the best case: one registered session settling 100 identical queries;
//   - one `list` (the highest of the listings) and a steady-state `claim`.
// Writes bench/results/gas.json and exits non-zero if a target is missed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPublicClient, createWalletClient, http, parseEther, parseEventLogs, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "../lib/chain/generated";
import { modelCharge, modelMaxCharge } from "../lib/chat/metering";
import {
  encodeSettle,
  hashSession,
  nextVoucherState,
  recordHash,
  settledAfter,
  signSession,
  signVoucher,
  type QueryRecord,
  type Session,
  type SettleItem,
  type VoucherState,
} from "../lib/protocol";
import { ANVIL_KEYS, startAnvil } from "../scripts/stack/anvil";
import { deployContracts } from "../scripts/stack/deploy";
import { freePort } from "../scripts/stack/process";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { perQueryRealistic: 4_000, claim: 50_000, list: 250_000 };

/** A small deterministic generator (LCG), so every run measures the same mix. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function main() {
  const port = await freePort();
  const anvil = await startAnvil({ port });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-bench-"));
  try {
    // The server's operator: named by every session, the only account that can settle them.
    const operator = privateKeyToAccount(ANVIL_KEYS[2]);
    const deployment = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      privateKey: ANVIL_KEYS[0],
      deploymentFile: path.join(dir, "deployment.json"),
      env: { OPERATOR: operator.address },
    });
    const chain = { ...foundry, id: anvil.chainId };
    const client = createPublicClient({ chain, transport: http(anvil.rpcUrl) }) as PublicClient;
    const wallet = (account: PrivateKeyAccount) => createWalletClient({ account, chain, transport: http(anvil.rpcUrl) });
    const settlement = deployment.settlement as Address;
    const assets = deployment.assets as Address;
    const usd = deployment.paymentToken as Address;
    const ctx = { chainId: anvil.chainId, settlement };
    const rand = random(0x4b4950);

    // ---- listings by one creator: 8 datasets, 2 models, 5 apps; list gas = the highest
    const creator = privateKeyToAccount(ANVIL_KEYS[1]);
    let listGas = 0n;
    const list = async (kind: number, price: bigint, name: string): Promise<bigint> => {
      const uri = `http://localhost:3000/api/metadata/slots/${name}-0001.json`.padEnd(60, "x");
      const hash = await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "list", args: [kind, price, uri, `0x${"ab".repeat(32)}`], chain, account: creator });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.gasUsed > listGas) listGas = receipt.gasUsed;
      return parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs })[0].args.slot;
    };
    const datasets: { slot: bigint; price: bigint }[] = [];
    for (let i = 0; i < 8; i++) datasets.push({ slot: await list(0, BigInt(1_000 + 250 * i), `data-${i}`), price: BigInt(1_000 + 250 * i) });
    const models = [];
    for (let i = 0; i < 2; i++) {
      const pricing = { perQuery: BigInt(500 + 500 * i), perKInput: BigInt(200 + 100 * i), perKOutput: BigInt(1_500 + 500 * i) };
      models.push({ slot: await list(1, pricing.perQuery, `model-${i}`), pricing });
    }
    const apps = [];
    for (let i = 0; i < 5; i++) {
      const own = datasets.filter((_, d) => (d + i) % 3 !== 0).slice(0, 2 + (i % 3)); // 2, 3 or 4 datasets
      apps.push({ slot: await list(2, BigInt(2_000 + 1_000 * i), `app-${i}`), price: BigInt(2_000 + 1_000 * i), model: models[i % 2], datasets: own });
    }

    // ---- 50 payers with deposits for the operator and one session each
    const latest = await client.getBlock();
    const expiry = latest.timestamp + 30n * 86_400n;
    interface Lane {
      app: (typeof apps)[number];
      payer: PrivateKeyAccount;
      key: PrivateKeyAccount;
      session: Session;
      signature: Hex;
      state: VoucherState | null;
      settledSeq: bigint;
      settled: bigint[];
      queries: number;
    }
    const lanes: Lane[] = [];
    for (let i = 0; i < 50; i++) {
      const payer = privateKeyToAccount(generatePrivateKey());
      await client.request({ method: "anvil_setBalance" as never, params: [payer.address, `0x${parseEther("1").toString(16)}`] as never });
      for (const [functionName, args] of [
        ["mint", [payer.address, 1_000_000_000n]],
        ["approve", [settlement, 1_000_000_000n]],
      ] as const) {
        await client.waitForTransactionReceipt({ hash: await wallet(payer).writeContract({ address: usd, abi: mockUsdAbi, functionName, args: args as never, chain, account: payer }) });
      }
      await client.waitForTransactionReceipt({
        hash: await wallet(payer).writeContract({ address: settlement, abi: kipSettlementAbi, functionName: "deposit", args: [operator.address, 1_000_000_000n], chain, account: payer }),
      });
      const key = privateKeyToAccount(generatePrivateKey());
      const session: Session = { payer: payer.address, key: key.address, operator: operator.address, spendCap: 900_000_000n, expiry, nonce: BigInt(i + 1) };
      lanes.push({ app: apps[i % 5], payer, key, session, signature: await signSession(payer, ctx, session), state: null, settledSeq: 0n, settled: [], queries: 0 });
    }

    /** `count` queries of `lane`: the voucher after them (signed) and their records. */
    const queriesOf = async (lane: Lane, count: number, identical = false): Promise<SettleItem> => {
      const { app } = lane;
      const perQuery = [
        { slot: app.slot, max: app.price },
        { slot: app.model.slot, max: modelMaxCharge(app.model.pricing) },
        ...app.datasets.map((d) => ({ slot: d.slot, max: d.price })),
      ];
      const records: QueryRecord[] = [];
      for (let q = 0; q < count; q++) {
        lane.state = nextVoucherState(lane.state, perQuery);
        const usage = identical ? { inputTokens: 2_000, outputTokens: 300 } : { inputTokens: 800 + Math.floor(rand() * 6_000), outputTokens: 60 + Math.floor(rand() * 700) };
        const inContext = identical ? app.datasets : app.datasets.filter(() => rand() < 0.5);
        const n = ++lane.queries;
        records.push({
          app: app.slot,
          charges: [
            { slot: app.slot, amount: app.price },
            { slot: app.model.slot, amount: modelCharge(app.model.pricing, usage) },
            ...inContext.map((d) => ({ slot: d.slot, amount: d.price })),
          ],
          tokensIn: usage.inputTokens,
          tokensOut: usage.outputTokens,
          recordHash: recordHash({ id: `answer-${lane.session.nonce}-${n}`, question: `question ${lane.session.nonce}.${n}`, answer: `answer ${n}`, passages: inContext.map((d) => `chunk-${d.slot}-${n}`) }),
        });
      }
      const voucher = { session: hashSession(lane.session), ...lane.state!, issuedAt: (await client.getBlock()).timestamp };
      return {
        session: lane.session,
        sessionSignature: lane.settledSeq === 0n ? lane.signature : "0x",
        voucher,
        voucherSignature: await signVoucher(lane.key, ctx, voucher),
        prevSeq: lane.settledSeq,
        prevSettled: lane.settled,
        records,
      };
    };

    /** Sends one settlement from the operator; every session must settle. Returns gasUsed. */
    const settle = async (pairs: [Lane, SettleItem][]): Promise<bigint> => {
      const hash = await wallet(operator).sendTransaction({ to: settlement, data: encodeSettle(pairs.map(([, item]) => item)), chain, account: operator, gas: 29_000_000n });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error("settle reverted");
      const settled = parseEventLogs({ abi: kipSettlementAbi, eventName: "SessionSettled", logs: receipt.logs });
      if (settled.length !== pairs.length) throw new Error(`expected ${pairs.length} settled sessions, saw ${settled.length}`);
      for (const [lane, item] of pairs) {
        lane.settled = settledAfter(item);
        lane.settledSeq = item.voucher.seq;
      }
      return receipt.gasUsed;
    };

    // 1-40 queries per session, mean about 10 (1 + 39·u³ has mean 10.75).
    const counts = () => lanes.map(() => 1 + Math.round(39 * rand() ** 3));
    const round = async () => {
      const perSession = counts();
      const pairs: [Lane, SettleItem][] = [];
      for (const [i, lane] of lanes.entries()) pairs.push([lane, await queriesOf(lane, perSession[i])]);
      const queries = perSession.reduce((a, b) => a + b, 0);
      const gas = await settle(pairs);
      return { gas, queries, perQuery: Math.round(Number(gas) / queries) };
    };
    const fresh = await round();
    const repeat = await round();

    // Best case: one registered session, 100 identical queries with every dataset in context.
    const best = lanes[0];
    const bestGas = await settle([[best, await queriesOf(best, 100, true)]]);

    // ---- claim: the app token claims once, earns again, then the measured claim
    const appToken = 1n + BigInt(8 + 2); // tokens are minted in listing order: datasets, models, then apps
    await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "claim", args: [appToken], chain, account: creator }).then((hash) => client.waitForTransactionReceipt({ hash }));
    await settle([[lanes[0], await queriesOf(lanes[0], 1)]]);
    const claimReceipt = await client.waitForTransactionReceipt({
      hash: await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "claim", args: [appToken], chain, account: creator }),
    });
    if (parseEventLogs({ abi: kipAssetsAbi, eventName: "RevenueClaimed", logs: claimReceipt.logs }).length !== 1) throw new Error("the measured claim paid nothing");

    const result = {
      perQueryGas: { realistic: fresh.perQuery, realisticRegistered: repeat.perQuery, best: Math.round(Number(bestGas) / 100) },
      settlementTxGas: { realistic: Number(fresh.gas), realisticRegistered: Number(repeat.gas), best: Number(bestGas) },
      mix: { sessions: lanes.length, queries: { realistic: fresh.queries, realisticRegistered: repeat.queries, best: 100 } },
      claimGas: Number(claimReceipt.gasUsed),
      listGas: Number(listGas),
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "gas.json"), `${JSON.stringify(result, null, 2)}\n`);

    const rows: [string, number, string, boolean][] = [
      [`per query, 50 fresh sessions (${fresh.queries} queries)`, result.perQueryGas.realistic, `<= ${TARGETS.perQueryRealistic}`, result.perQueryGas.realistic <= TARGETS.perQueryRealistic],
      [`per query, same sessions again (${repeat.queries})`, result.perQueryGas.realisticRegistered, "-", true],
      ["per query, best case (100 identical)", result.perQueryGas.best, "-", true],
      ["settlement tx, 50 fresh sessions", result.settlementTxGas.realistic, "-", true],
      ["claim (steady state)", result.claimGas, `<= ${TARGETS.claim}`, result.claimGas <= TARGETS.claim],
      ["list (~60-char URI)", result.listGas, `<= ${TARGETS.list}`, result.listGas <= TARGETS.list],
    ];
    console.log("\nGas (transaction receipts on anvil, 21,000 base and calldata included)\n");
    console.log(`${"measure".padEnd(46)}${"gas".padStart(11)}   target`);
    for (const [name, gas, target, ok] of rows) console.log(`${name.padEnd(46)}${gas.toLocaleString("en-US").padStart(11)}   ${target}${ok ? "" : "   MISSED"}`);
    console.log(`\nwrote bench/results/gas.json`);
    if (rows.some(([, , , ok]) => !ok)) process.exitCode = 1;
  } finally {
    await anvil.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
