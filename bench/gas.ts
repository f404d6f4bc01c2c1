// Gas benchmark on a real local chain: `npx tsx bench/gas.ts` (or `npm run bench`).
// Starts anvil, deploys with the forge script and measures from transaction receipts (gasUsed: the 21,000
// base and calldata included) of settlements built with lib/protocol (`encodeSettle`, the worker's
// encoder) and sent by the operator, with the realistic mix of the payments issue, drawn exactly as the
// forge gas test draws it (contracts/test/SettlementGas.t.sol), so the two measure the same queries:
//   - 5 apps, each with its own set of 2-4 datasets (of 10) and one of 2 models, token-metered;
//   - 50 accounts (50 payers, one session each), 1-40 queries each (mean exactly 10), about half of an
//     app's datasets in the context of each query (the others are left out of its record), model amounts
//     that differ per query (its own token counts);
//   - a live marketplace: every slot has earned before and fees have accrued;
//   - one settlement transaction of all 50 accounts' newest vouchers with their records (each carries its
//     session's signature, verified by the contract), then a second one of the same accounts' next queries;
//   - the best case: one account settling 200 identical queries;
//   - one `list` (the highest of the listings) and a steady-state `claim`.
// Writes bench/results/gas.json and exits non-zero if a target is missed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  createPublicClient,
  createWalletClient,
  encodeAbiParameters,
  hexToBigInt,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "../lib/chain/generated";
import { modelCharge, modelMaxCharge, type ModelPricing } from "../lib/chat/metering";
import {
  encodeSettle,
  hashSession,
  nextVoucherFields,
  recordHash,
  settlementOutcome,
  signSession,
  signVoucher,
  type AccountPosition,
  type QueryRecord,
  type Session,
  type SettleItem,
  type SlotMax,
  type Voucher,
} from "../lib/protocol";
import { ANVIL_KEYS, startAnvil } from "../scripts/stack/anvil";
import { deployContracts } from "../scripts/stack/deploy";
import { freePort } from "../scripts/stack/process";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { perQueryRealistic: 4_000, claim: 50_000, list: 250_000 };
/** What the forge gas test measured for the same mix when this bench was written (tx estimate, first settlement). */
const FORGE_REALISTIC_PER_QUERY = 3_945;

const ACCOUNTS = 50;
const APPS = 5;
const MODELS = 2;
const DATASETS = 10;
const MEAN_QUERIES = 10;
const MODEL_PRICING: ModelPricing = { perQuery: 2_000n, perKInput: 300n, perKOutput: 1_200n };
const FUNDS = 100_000_000n;

/** keccak256(abi.encode(...)) as a uint256, as the forge test seeds its draws. */
const seedOf = (types: { type: string }[], values: unknown[]) => hexToBigInt(keccak256(encodeAbiParameters(types, values)));

/** Drawn queries of account s in round `round`: 1..40 (one in ten a long conversation of 21..40, else 1..15). */
function drawQueries(s: number, round: number): number {
  const r = seedOf([{ type: "string" }, { type: "uint256" }, { type: "uint256" }], ["queries", BigInt(s), BigInt(round)]);
  if (r % 10n === 0n) return 21 + Number((r >> 8n) % 20n);
  return 1 + Number((r >> 16n) % 8n) + Number((r >> 24n) % 8n);
}

/** Each account's queries in `round`: the draws, corrected one query at a time to sum to exactly ACCOUNTS * MEAN_QUERIES. */
function queryCounts(round: number): number[] {
  const counts = Array.from({ length: ACCOUNTS }, (_, s) => drawQueries(s, round));
  let sum = counts.reduce((a, b) => a + b, 0);
  const target = ACCOUNTS * MEAN_QUERIES;
  for (let s = 0; sum !== target; s = (s + 1) % ACCOUNTS) {
    if (sum > target && counts[s] > 1) {
      counts[s]--;
      sum--;
    } else if (sum < target && counts[s] < 40) {
      counts[s]++;
      sum++;
    }
  }
  return counts;
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

    // ---- listings by one creator: 5 apps, 2 models, 10 datasets; list gas = the highest
    const creator = privateKeyToAccount(ANVIL_KEYS[1]);
    let listGas = 0n;
    const list = async (kind: number, price: bigint, name: string): Promise<{ slot: bigint; tokenId: bigint }> => {
      const uri = `http://localhost:3000/api/metadata/slots/${name}-0001.json`.padEnd(60, "x");
      const hash = await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "list", args: [kind, price, uri, `0x${"ab".repeat(32)}`], chain, account: creator });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.gasUsed > listGas) listGas = receipt.gasUsed;
      const [listed] = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs });
      return { slot: listed.args.slot, tokenId: listed.args.tokenId };
    };
    const appListings: { slot: bigint; tokenId: bigint; price: bigint }[] = [];
    for (let a = 0; a < APPS; a++) appListings.push({ ...(await list(2, BigInt(10_000 + 1_000 * a), `app-${a}`)), price: BigInt(10_000 + 1_000 * a) });
    const models: { slot: bigint; tokenId: bigint }[] = [];
    for (let m = 0; m < MODELS; m++) models.push(await list(1, MODEL_PRICING.perQuery, `model-${m}`));
    const datasets: { slot: bigint; price: bigint }[] = [];
    for (let d = 0; d < DATASETS; d++) datasets.push({ slot: (await list(0, BigInt(3_000 + 500 * d), `data-${d}`)).slot, price: BigInt(3_000 + 500 * d) });
    // App a: its model and 2..4 datasets.
    const apps = appListings.map((app, a) => ({
      ...app,
      model: models[a % MODELS],
      datasets: Array.from({ length: 2 + (a % 3) }, (_, d) => datasets[(a * 3 + d * 2) % DATASETS]),
    }));

    // ---- payers with deposits for the operator and one session each
    const expiry = (await client.getBlock()).timestamp + 30n * 86_400n;
    interface Lane {
      app: (typeof apps)[number];
      payer: PrivateKeyAccount;
      key: PrivateKeyAccount;
      session: Session;
      signature: Hex;
      /** Where the account's vouchers stand (all settled). */
      position: AccountPosition;
      queries: number;
    }
    const newLane = async (i: number, app: (typeof apps)[number]): Promise<Lane> => {
      const payer = privateKeyToAccount(generatePrivateKey());
      await client.request({ method: "anvil_setBalance" as never, params: [payer.address, `0x${parseEther("1").toString(16)}`] as never });
      for (const [functionName, args] of [
        ["mint", [payer.address, FUNDS]],
        ["approve", [settlement, FUNDS]],
      ] as const) {
        await client.waitForTransactionReceipt({ hash: await wallet(payer).writeContract({ address: usd, abi: mockUsdAbi, functionName, args: args as never, chain, account: payer }) });
      }
      await client.waitForTransactionReceipt({
        hash: await wallet(payer).writeContract({ address: settlement, abi: kipSettlementAbi, functionName: "deposit", args: [operator.address, FUNDS], chain, account: payer }),
      });
      const key = privateKeyToAccount(generatePrivateKey());
      const session: Session = { payer: payer.address, key: key.address, operator: operator.address, spendCap: FUNDS, expiry, nonce: BigInt(i + 1) };
      return { app, payer, key, session, signature: await signSession(payer, ctx, session), position: { seq: 0n, cumulativeMax: 0n }, queries: 0 };
    };

    /** One query's maxima (app, model, datasets) and its record, with the draws of `seed` (as the forge test draws them). */
    const queryOf = (lane: Lane, seed: bigint | null): { maxima: SlotMax[]; record: QueryRecord } => {
      const { app } = lane;
      const maxima: SlotMax[] = [
        { slot: app.slot, max: app.price },
        { slot: app.model.slot, max: modelMaxCharge(MODEL_PRICING) },
        ...app.datasets.map((d) => ({ slot: d.slot, max: d.price })),
      ];
      // The best case: the same tokens and the first dataset only, every query.
      const usage = seed === null ? { inputTokens: 1_000, outputTokens: 200 } : { inputTokens: 500 + Number((seed >> 32n) % 3_500n), outputTokens: 50 + Number((seed >> 64n) % 975n) };
      const inContext = app.datasets.filter((_, d) => (seed === null ? d === 0 : ((seed >> BigInt(d + 2)) & 1n) === 1n));
      const n = ++lane.queries;
      return {
        maxima,
        record: {
          app: app.slot,
          charges: [
            { slot: app.slot, amount: app.price },
            { slot: app.model.slot, amount: modelCharge(MODEL_PRICING, usage) },
            ...inContext.map((d) => ({ slot: d.slot, amount: d.price })),
          ],
          tokensIn: usage.inputTokens,
          tokensOut: usage.outputTokens,
          recordHash: recordHash({ id: `answer-${lane.session.nonce}-${n}`, question: `question ${lane.session.nonce}.${n}`, answer: `answer ${n}`, passages: inContext.map((d) => `chunk-${d.slot}-${n}`) }),
        },
      };
    };

    /** The lane's next `seeds.length` queries as the worker settles them: the account's newest voucher (signed by the key) and one record per query. */
    const itemOf = async (lane: Lane, seeds: (bigint | null)[]): Promise<SettleItem> => {
      let position = lane.position;
      let fields: ReturnType<typeof nextVoucherFields> | null = null;
      const records: QueryRecord[] = [];
      for (const seed of seeds) {
        const { maxima, record } = queryOf(lane, seed);
        fields = nextVoucherFields(position, maxima);
        position = { seq: fields.seq, cumulativeMax: fields.cumulativeMax };
        records.push(record);
      }
      const voucher: Voucher = { session: hashSession(lane.session), ...fields!, issuedAt: (await client.getBlock()).timestamp };
      lane.position = position;
      return { session: lane.session, sessionSignature: { kind: "key", signature: lane.signature }, voucher, voucherSignature: await signVoucher(lane.key, ctx, voucher), records };
    };

    /** Sends one settlement from the operator; every item must settle. Returns the receipt's gasUsed and the calldata's size. */
    const settle = async (items: SettleItem[]): Promise<{ gas: bigint; bytes: number }> => {
      const data = encodeSettle(items);
      const hash = await wallet(operator).sendTransaction({ to: settlement, data, chain, account: operator, gas: 29_000_000n });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error("settle reverted");
      const rejected = settlementOutcome(data, operator.address, settlement, receipt.logs).filter((o) => o.rejected !== null);
      if (rejected.length) throw new Error(`${rejected.length} items rejected (${rejected[0].rejected})`);
      return { gas: receipt.gasUsed, bytes: (data.length - 2) / 2 };
    };

    // ---- a live marketplace: every slot has earned and fees have accrued before the measured settlements
    const warm = await newLane(999, apps[0]);
    {
      const every = [...apps.map((a) => a.slot), ...models.map((m) => m.slot), ...datasets.map((d) => d.slot)];
      const maxima = every.map((slot) => ({ slot, max: 1_000n }));
      const fields = nextVoucherFields(warm.position, maxima);
      const voucher: Voucher = { session: hashSession(warm.session), ...fields, issuedAt: (await client.getBlock()).timestamp };
      const record: QueryRecord = { app: apps[0].slot, charges: maxima.map(({ slot, max }) => ({ slot, amount: max })), tokensIn: 1, tokensOut: 1, recordHash: `0x${"11".repeat(32)}` };
      await settle([{ session: warm.session, sessionSignature: { kind: "key", signature: warm.signature }, voucher, voucherSignature: await signVoucher(warm.key, ctx, voucher), records: [record] }]);
    }

    const lanes: Lane[] = [];
    for (let i = 0; i < ACCOUNTS; i++) lanes.push(await newLane(i, apps[i % APPS]));
    const round = async (n: number) => {
      const counts = queryCounts(n);
      const items: SettleItem[] = [];
      for (const [s, lane] of lanes.entries()) {
        const seeds = Array.from({ length: counts[s] }, (_, j) => seedOf([{ type: "uint256" }, { type: "uint256" }, { type: "uint256" }], [BigInt(n), BigInt(s), BigInt(j)]));
        items.push(await itemOf(lane, seeds));
      }
      const queries = counts.reduce((a, b) => a + b, 0);
      const { gas, bytes } = await settle(items);
      return { gas, bytes, queries, perQuery: Math.round(Number(gas) / queries) };
    };
    const first = await round(1);
    const second = await round(2);

    // Best case: one account, 200 identical queries (app, model, one dataset).
    const bestLane = await newLane(500, apps[0]);
    const BEST = 200;
    await settle([await itemOf(bestLane, Array.from({ length: BEST }, () => null))]);
    const best = await settle([await itemOf(bestLane, Array.from({ length: BEST }, () => null))]);

    // ---- claim: the app token claims once, earns again, then the measured claim
    const appToken = apps[0].tokenId;
    await client.waitForTransactionReceipt({ hash: await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "claim", args: [appToken], chain, account: creator }) });
    await settle([await itemOf(lanes[0], [0n])]);
    const claimReceipt = await client.waitForTransactionReceipt({
      hash: await wallet(creator).writeContract({ address: assets, abi: kipAssetsAbi, functionName: "claim", args: [appToken], chain, account: creator }),
    });
    if (parseEventLogs({ abi: kipAssetsAbi, eventName: "RevenueClaimed", logs: claimReceipt.logs }).length !== 1) throw new Error("the measured claim paid nothing");

    // Conservation after it all: the settlement holds exactly the deposits and the fees.
    const [held, deposits, fees] = await Promise.all([
      client.readContract({ address: usd, abi: mockUsdAbi, functionName: "balanceOf", args: [settlement] }),
      client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "totalDeposits" }),
      client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "feesAccrued" }),
    ]);
    if (held !== deposits + fees) throw new Error(`conservation broken: holds ${held}, deposits ${deposits} + fees ${fees}`);

    const result = {
      perQueryGas: { realistic: first.perQuery, realisticSecond: second.perQuery, best: Math.round(Number(best.gas) / BEST) },
      settlementTxGas: { realistic: Number(first.gas), realisticSecond: Number(second.gas), best: Number(best.gas) },
      calldataBytes: { realistic: first.bytes, realisticSecond: second.bytes, best: best.bytes },
      mix: { accounts: lanes.length, queries: { realistic: first.queries, realisticSecond: second.queries, best: BEST } },
      claimGas: Number(claimReceipt.gasUsed),
      listGas: Number(listGas),
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "gas.json"), `${JSON.stringify(result, null, 2)}\n`);

    const rows: [string, number, string, boolean][] = [
      [`per query, 50 accounts (${first.queries} queries)`, result.perQueryGas.realistic, `<= ${TARGETS.perQueryRealistic}`, result.perQueryGas.realistic <= TARGETS.perQueryRealistic],
      [`per query, same accounts again (${second.queries})`, result.perQueryGas.realisticSecond, "-", true],
      [`per query, best case (${BEST} identical)`, result.perQueryGas.best, "-", true],
      ["settlement tx, 50 accounts", result.settlementTxGas.realistic, "-", true],
      ["settlement tx, same accounts again", result.settlementTxGas.realisticSecond, "-", true],
      ["claim (steady state)", result.claimGas, `<= ${TARGETS.claim}`, result.claimGas <= TARGETS.claim],
      ["list (~60-char URI)", result.listGas, `<= ${TARGETS.list}`, result.listGas <= TARGETS.list],
    ];
    console.log("\nGas (transaction receipts on anvil, 21,000 base and calldata included)\n");
    console.log(`${"measure".padEnd(46)}${"gas".padStart(11)}   target`);
    for (const [name, gas, target, ok] of rows) console.log(`${name.padEnd(46)}${gas.toLocaleString("en-US").padStart(11)}   ${target}${ok ? "" : "   MISSED"}`);
    console.log(`\nforge (contracts/test/SettlementGas.t.sol, same mix, tx estimate): ${FORGE_REALISTIC_PER_QUERY.toLocaleString("en-US")} per query`);
    console.log(`wrote bench/results/gas.json`);
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
