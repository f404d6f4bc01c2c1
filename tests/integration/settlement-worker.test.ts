// Settlement of chat vouchers on a real chain. End to end: paid questions over HTTP → the stack's
// settlement worker settles each session's newest voucher with the queries' records → each slot's revenue
// on chain equals its charges minus the protocol fee, exactly. Crash safety: a worker that dies after
// broadcasting (or before) loses no query and charges none twice; a settlement the DB forgot is
// recognised from the chain's state, not charged again. Poison rows never stop the others.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createPublicClient, custom, http, keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi } from "../../lib/chain/generated";
import type { ChargeSet, MessageCharge } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { hashSession, nextVoucherFields, signSession, signVoucher, type AccountPosition, type Session } from "../../lib/protocol";
import { exactHeadroom, spendable } from "../../lib/chat/balance";
import type { ChainContext } from "../../lib/chat/charges";
import { pendingHolds } from "../../lib/chat/store";
import { SettlementWorker } from "../../lib/settlement/worker";
import { startSettlementWorker } from "../../scripts/stack";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const fx = new ChatFixtures(stack);
const TEXT_A = "Tide pools hold anemones, hermit crabs and sea stars between the rocks at low tide.";
const TEXT_B = "Kelp forests grow quickly in cold water and shelter otters, urchins and many fish.";

let db: Db;
let standIn: StandIn;
let created: Awaited<ReturnType<ChatFixtures["createApp"]>>;
let charges: ChargeSet;

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  // Each question is about one dataset only, so only that dataset has passages in the context and is paid.
  standIn = await startStandIn({ reply: () => "Here is what the first passage says [1]." });
  created = await fx.createApp(db, {
    systemPrompt: "Answer about the shore.",
    prices: { app: 7_001n, model: 3_333n, datasets: [1_999n, 2_017n] },
    datasets: [
      { name: "Tide pools", text: TEXT_A },
      { name: "Kelp", text: TEXT_B },
    ],
    baseUrl: standIn.url,
  });
  charges = await fx.chargeSet(created.app.id);
});

afterAll(async () => {
  await standIn?.stop();
  await db?.$disconnect();
});

const slotRevenue = (slot: bigint) =>
  fx.client.readContract({ address: stack.deployment.assets as Address, abi: kipAssetsAbi, functionName: "slotInfo", args: [slot] }).then((i) => i.revenue);

describe("settling chat receipts", () => {
  it("credits each slot exactly its charges minus the protocol fee", async () => {
    const payer = await fx.account();
    await fx.deposit(payer, 1_000_000n);
    const cookie = await fx.signIn(payer);
    const auth = await fx.authorize(cookie, payer);
    const slots = charges.slots.map((s) => BigInt(s.slot));
    const revenueBefore = await Promise.all(slots.map(slotRevenue));

    const questions = ["tide pools anemones", "kelp forests otters", "sea stars tide", "kelp urchins"];
    const receiptIds: string[] = [];
    for (const [i, text] of questions.entries()) {
      const response = await fx.post("/api/chat", cookie, {
        conversationId: clientId(),
        appId: created.app.id,
        trigger: "submit-message",
        message: { id: clientId(), text },
        payment: await fx.payment(charges, auth),
      });
      const chunks = await readChunks(response);
      const meta = chunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: MessageCharge };
      receiptIds.push(meta.charge.receiptId!);
    }

    // The stack's worker (SETTLE_INTERVAL_MS=1000) picks them up.
    await expect
      .poll(
        async () => {
          const { receipts } = (await (await fx.get(`/api/chat/receipts?ids=${receiptIds.join(",")}`, cookie)).json()) as { receipts: Record<string, MessageCharge> };
          return receiptIds.map((id) => receipts[id]?.status);
        },
        { timeout: 30_000, interval: 500 },
      )
      .toEqual(receiptIds.map(() => "settled"));

    // Expected per slot, batch by batch (the fee is rounded down per slot per batch).
    const rows = await db.receipt.findMany({ where: { id: { in: receiptIds } } });
    const feeBps = BigInt(stack.deployment.feeBps);
    const expected = slots.map(() => 0n);
    let charged = 0n;
    for (const txHash of new Set(rows.map((r) => r.txHash))) {
      const gross = slots.map(() => 0n);
      for (const row of rows.filter((r) => r.txHash === txHash)) {
        for (const [slot, amount] of JSON.parse(row.amountsJson!) as [string, string][]) gross[slots.indexOf(BigInt(slot))] += BigInt(amount);
        charged += BigInt(row.total!);
      }
      gross.forEach((g, i) => (expected[i] += g - (g * feeBps) / 10_000n));
    }
    const revenueAfter = await Promise.all(slots.map(slotRevenue));
    expect(revenueAfter.map((r, i) => r - revenueBefore[i])).toEqual(expected);
    // Datasets were paid only when their passages were in the context: each question's record charges
    // the app, the model and exactly one dataset.
    const records = rows.map((r) => JSON.parse(r.amountsJson!) as [string, string][]);
    expect(records.every((r) => r.length === 3 && r.slice(2).every(([slot]) => slots.slice(2).includes(BigInt(slot))))).toBe(true);
    expect(await fx.balanceOf(payer.address)).toBe(1_000_000n - charged);
  });
});

describe("a settlement worker that crashes", () => {
  let own: Db;
  let server: PostgresHandle;

  beforeAll(async () => {
    // A database of its own, so the stack's worker does not pick these receipts up.
    server = await startTemporaryPostgres("kip-settle-crash-");
    await migrateDatabase(server.url);
    own = createDb(server.url);
  });

  afterAll(async () => {
    await own?.$disconnect();
    await server?.stop();
  });

  // The operator these tests' sessions name and their workers settle with: an account of their own, so
  // the stack's worker (another operator) never races them for nonces or rows.
  let operator: PrivateKeyAccount;
  beforeAll(async () => {
    operator = await fx.account();
  });

  /**
   * A payer with a deposit for this operator, a session never settled before, and `count` answered queries
   * in `own`: vouchers 1..count, each charging the app, the model and the first dataset (the second was not
   * in the context).
   */
  async function pendingReceipts(count: number, deposit = 500_000n, wallet?: { address: Address; signature: Hex }) {
    const payer = wallet ? { address: wallet.address } : await fx.account();
    if (!wallet && deposit > 0n) await fx.deposit(payer as PrivateKeyAccount, deposit, operator.address);
    const key = privateKeyToAccount(generatePrivateKey());
    const ctx = { chainId: stack.chainId, settlement: fx.settlement };
    const session: Session = {
      payer: payer.address,
      key: key.address,
      operator: operator.address,
      spendCap: 400_000n,
      expiry: BigInt(Math.floor(Date.now() / 1000) + 3600),
      nonce: 7n,
    };
    const hash = hashSession(session);
    await own.paymentSession.create({
      data: {
        hash,
        chainId: stack.chainId,
        settlement: fx.settlement,
        payer: payer.address,
        key: key.address,
        operator: operator.address,
        spendCap: session.spendCap.toString(),
        expiry: Number(session.expiry),
        nonce: "7",
        signature: wallet ? wallet.signature : await signSession(payer as PrivateKeyAccount, ctx, session),
      },
    });
    const record = charges.slots.filter((_, i) => i !== 3).map((s) => [s.slot, s.price]);
    const total = record.reduce((a, [, amount]) => a + BigInt(amount), 0n);
    let position: AccountPosition = { seq: 0n, cumulativeMax: 0n };
    const maxima = charges.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) }));
    for (let n = 1; n <= count; n++) {
      const fields = nextVoucherFields(position, maxima);
      position = { seq: fields.seq, cumulativeMax: fields.cumulativeMax };
      const voucher = { session: hash, ...fields, issuedAt: BigInt(Math.floor(Date.now() / 1000)) };
      await own.receipt.create({
        data: {
          chainId: stack.chainId,
          settlement: fx.settlement,
          operator: operator.address,
          payer: payer.address,
          seq: String(n),
          issuedAt: Number(voucher.issuedAt),
          sessionHash: hash,
          slotsJson: JSON.stringify(maxima.map((m) => String(m.slot))),
          maxAmountsJson: JSON.stringify(maxima.map((m) => String(m.max))),
          charges: fields.charges,
          cumulativeMax: fields.cumulativeMax.toString(),
          amountsJson: JSON.stringify(record),
          maxTotal: charges.maxTotal,
          total: total.toString(),
          inputTokens: 120,
          outputTokens: 30,
          recordHash: keccak256(toHex(`query ${hash} ${n}`)),
          signature: await signVoucher(key, ctx, voucher),
          status: "pending",
          appId: created.app.id,
          conversationId: "crash-test",
        },
      });
    }
    return { payer, total, hash };
  }

  const balance = (payer: Address) => fx.balanceOf(payer, operator.address);

  type WorkerOptions = ConstructorParameters<typeof SettlementWorker>[0];
  async function worker(hooks?: WorkerOptions["hooks"], options: Partial<WorkerOptions> = {}) {
    return new SettlementWorker({
      db: own,
      rpcUrl: stack.rpcUrl,
      chainId: stack.chainId,
      settlement: fx.settlement,
      account: operator,
      batchSize: 10,
      fromBlock: BigInt(stack.deployment.startBlock),
      hooks,
      log: () => undefined,
      ...options,
    });
  }

  /** A JSON-RPC call to the stack's anvil. */
  async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const response = await fetch(stack.rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  }

  /** A client for the stack's chain that, like a public RPC, refuses log queries over `maxRange` blocks. */
  function strictClient(maxRange: bigint, ranges: bigint[]) {
    const upstream = http(stack.rpcUrl)({});
    return createPublicClient({
      transport: custom({
        async request({ method, params }: { method: string; params?: unknown }) {
          if (method === "eth_getLogs") {
            const [filter] = params as [{ fromBlock?: string; toBlock?: string }];
            if (!filter.fromBlock?.startsWith("0x") || !filter.toBlock?.startsWith("0x")) throw new Error("open-ended log range refused");
            const span = BigInt(filter.toBlock) - BigInt(filter.fromBlock) + 1n;
            if (span > maxRange) throw new Error(`log range of ${span} blocks refused (at most ${maxRange})`);
            ranges.push(span);
          }
          return upstream.request({ method, params } as Parameters<typeof upstream.request>[0]);
        },
      }),
    }) as PublicClient;
  }

  const statuses = async (payer: Address) => (await own.receipt.findMany({ where: { payer }, orderBy: { seq: "asc" } })).map((r) => r.status);

  /** A worker settles once and dies right after broadcasting; returns the broadcast transaction's hash. */
  async function crashAfterBroadcast(): Promise<Hex> {
    let broadcast: Hex | undefined;
    const crashing = await worker({
      afterBroadcast: (_batch, txHash) => {
        broadcast = txHash;
        throw new Error("killed after broadcast");
      },
    });
    await expect(crashing.settleOnce()).rejects.toThrow("killed after broadcast");
    return broadcast!;
  }

  /** A worker settles once and dies after storing the signed transaction, before broadcasting it. */
  async function crashBeforeBroadcast(): Promise<void> {
    const crashing = await worker({
      afterRecord: () => {
        throw new Error("killed before broadcast");
      },
    });
    await expect(crashing.settleOnce()).rejects.toThrow("killed before broadcast");
  }

  it("dies after broadcasting: the restart finds the transaction and records it once", async () => {
    const { payer, total } = await pendingReceipts(3);
    const broadcast = await crashAfterBroadcast();
    expect(await statuses(payer.address)).toEqual(["sending", "sending", "sending"]);

    const restarted = await worker();
    await restarted.reconcile();
    const rows = await own.receipt.findMany({ where: { payer: payer.address } });
    expect(rows.map((r) => [r.status, r.txHash])).toEqual(rows.map(() => ["settled", broadcast]));
    expect(await restarted.settleOnce()).toBeNull();
    expect(await balance(payer.address)).toBe(500_000n - 3n * total);
  });

  it("dies after recording but before broadcasting: the restart sends the same transaction", async () => {
    const { payer, total } = await pendingReceipts(2);
    await crashBeforeBroadcast();
    const batch = await own.settlementBatch.findFirstOrThrow({ where: { status: "sending" } });
    expect(batch.rawTx).toMatch(/^0x/);
    expect(await balance(payer.address)).toBe(500_000n);

    await (await worker()).reconcile();
    expect(await statuses(payer.address)).toEqual(["settled", "settled"]);
    const rows = await own.receipt.findMany({ where: { payer: payer.address } });
    expect(new Set(rows.map((r) => r.txHash))).toEqual(new Set([batch.txHash]));
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
  });

  describe("the payer's headroom while a settlement lands", () => {
    const chainOf = (client: PublicClient = fx.client): ChainContext => ({
      chainId: stack.chainId,
      assets: stack.deployment.assets as Address,
      settlement: fx.settlement,
      operator: operator.address,
      client,
    });
    /** The quick reading admission starts with: receipts first, then the chain. */
    const quick = async (payer: Address) => (await spendable(chainOf(), payer)) - (await pendingHolds(own, chainOf(), payer));

    it("counts receipts that are mined but still recorded as being sent once", async () => {
      const { payer, total } = await pendingReceipts(3);
      const broadcast = await crashAfterBroadcast();
      await fx.client.waitForTransactionReceipt({ hash: broadcast });
      expect(await statuses(payer.address)).toEqual(["sending", "sending", "sending"]);
      // Paid on chain and still held in the database: the quick reading counts them twice.
      expect(await quick(payer.address)).toBe(500_000n - 6n * total);
      expect(await exactHeadroom(own, chainOf(), payer.address)).toBe(500_000n - 3n * total);
      await (await worker()).reconcile();
      expect(await statuses(payer.address)).toEqual(["settled", "settled", "settled"]);
      expect(await exactHeadroom(own, chainOf(), payer.address)).toBe(500_000n - 3n * total);
    });

    it("still holds receipts whose transaction was signed and stored but never broadcast", async () => {
      const { payer, total } = await pendingReceipts(2);
      await crashBeforeBroadcast();
      expect(await statuses(payer.address)).toEqual(["sending", "sending"]);
      expect(await exactHeadroom(own, chainOf(), payer.address)).toBe(500_000n - 2n * total);
      await (await worker()).reconcile();
      expect(await exactHeadroom(own, chainOf(), payer.address)).toBe(500_000n - 2n * total);
    });

    it("stays exact when a batch is claimed, mined and recorded between the receipts and the chain reading", async () => {
      const { payer, total } = await pendingReceipts(2);
      const settler = await worker();
      let settledDuringRead = false;
      const upstream = http(stack.rpcUrl)({});
      // The first chain read waits for a whole settlement round: the receipts were pending when they were
      // read, and are on chain when the account is read.
      const racing = createPublicClient({
        transport: custom({
          async request({ method, params }: { method: string; params?: unknown }) {
            if (method === "eth_call" && !settledDuringRead) {
              settledDuringRead = true;
              expect(await settler.settleOnce()).toMatchObject({ settled: 2 });
            }
            return upstream.request({ method, params } as Parameters<typeof upstream.request>[0]);
          },
        }),
      }) as PublicClient;
      expect(await exactHeadroom(own, chainOf(racing), payer.address)).toBe(500_000n - 2n * total);
      expect(settledDuringRead).toBe(true);
      expect(await statuses(payer.address)).toEqual(["settled", "settled"]);
    });
  });

  it("cannot charge twice when the database lost track of a settlement: the chain's settled seq says it was paid", async () => {
    const { payer, total, hash } = await pendingReceipts(2);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 2, failed: 0 });
    // The database forgets (restored from an old backup): both rows and the session look unsettled.
    await own.receipt.updateMany({ where: { payer: payer.address }, data: { status: "pending", txHash: null, batchId: null } });
    await own.paymentSession.update({ where: { hash }, data: { settledSeq: "0" } });
    // The account's seq on chain is past both: nothing is sent, and they are recorded as paid.
    expect(await (await worker()).settleOnce()).toBeNull();
    expect(await statuses(payer.address)).toEqual(["settled", "settled"]);
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
  });

  it("finds a settlement with log queries a public RPC accepts (bounded ranges)", async () => {
    const { payer } = await pendingReceipts(1);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 1 });
    // From block 0, as a deployment file with no start block would say: dozens of ranges of 25 blocks.
    const ranges: bigint[] = [];
    const strict = await worker(undefined, { client: strictClient(25n, ranges), logRange: 25, fromBlock: 0n });
    expect(await strict.findSettlement(payer.address, 1n)).toBe(round!.txHash);
    expect(await strict.findSettlement(payer.address, 2n)).toBeNull();
    expect(ranges.length).toBeGreaterThan(1);
    expect(ranges.every((span) => span <= 25n)).toBe(true);
  });

  it("settles a session in steps: the second settlement builds on the state the first left on chain", async () => {
    const { payer, total, hash } = await pendingReceipts(3);
    // Only the first query is answered when the worker runs; the next two are still being written.
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: { in: ["2", "3"] } }, data: { status: "answering" } });
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 1, failed: 0 });
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash } })).settledSeq).toBe("1");
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: { in: ["2", "3"] } }, data: { status: "pending" } });
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 2, failed: 0 });
    expect(await statuses(payer.address)).toEqual(["settled", "settled", "settled"]);
    expect(await balance(payer.address)).toBe(500_000n - 3n * total);
  });

  it("waits for an earlier answer still being written before settling later ones under a newer voucher", async () => {
    const { payer, hash } = await pendingReceipts(2);
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: "1" }, data: { status: "answering" } });
    // Settling voucher 2 now would leave query 1 with no voucher to settle under: nothing is sent.
    expect(await (await worker()).settleOnce()).toBeNull();
    expect(await statuses(payer.address)).toEqual(["answering", "pending"]);
    // A voided query (it failed before its first token) does not hold the others back.
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: "1" }, data: { status: "void" } });
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 1, failed: 0 });
    expect(await statuses(payer.address)).toEqual(["void", "settled"]);
  });

  it("re-sends a transaction that is not mined with higher fees under the same nonce", async () => {
    const { payer, total } = await pendingReceipts(2);
    let first: Hex | undefined;
    let batchId: string | undefined;
    const bumping = await worker({ afterBroadcast: (id, txHash) => void ((batchId = id), (first = txHash)) }, { bumpAfterMs: 300, confirmTimeoutMs: 60_000 });
    await rpc("evm_setAutomine", [false]);
    let round: Promise<Awaited<ReturnType<SettlementWorker["settleOnce"]>>> | undefined;
    try {
      round = bumping.settleOnce();
      // The first transaction sits in the pool; the worker replaces it at least once.
      const batch = await vi.waitFor(
        async () => {
          if (!batchId) throw new Error("not broadcast yet");
          const row = await own.settlementBatch.findUniqueOrThrow({ where: { id: batchId } });
          if (!first || !row.txHash || row.txHash === first) throw new Error("not re-sent yet");
          return row;
        },
        { timeout: 30_000, interval: 100 },
      );
      const replaced = await fx.client.getTransaction({ hash: batch.txHash as Hex });
      const original = await fx.client.getTransaction({ hash: first! }).catch(() => null);
      expect(replaced.nonce).toBe(batch.txNonce);
      if (original) expect(replaced.maxFeePerGas! > original.maxFeePerGas!).toBe(true);
    } finally {
      await rpc("evm_setAutomine", [true]);
      await rpc("evm_mine");
    }
    const outcome = await round;
    expect(outcome).toMatchObject({ settled: 2, failed: 0 });
    expect(outcome!.txHash).not.toBe(first);
    const rows = await own.receipt.findMany({ where: { payer: payer.address } });
    expect(rows.map((r) => [r.status, r.txHash])).toEqual(rows.map(() => ["settled", outcome!.txHash]));
    // Mined once: the payer paid exactly two receipts.
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
  });

  it("refuses to start with an account that is not the deployment's operator, and says what to do", async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    const unauthorized = new SettlementWorker({
      db: own,
      rpcUrl: stack.rpcUrl,
      chainId: stack.chainId,
      settlement: fx.settlement,
      account: stranger,
      operator: fx.operator,
      batchSize: 10,
      log: () => undefined,
    });
    await expect(unauthorized.checkAccount()).rejects.toThrow(
      new RegExp(`${stranger.address} \\(SETTLER_PRIVATE_KEY\\) is not this deployment's operator ${fx.operator}`),
    );
    // The worker process exits with that message instead of standing by.
    const child = startSettlementWorker({ ...stack.env, DATABASE_URL: server.url, SETTLER_PRIVATE_KEY: generatePrivateKey() }, "settle-stranger");
    let output = "";
    child.child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = child.child.exitCode ?? (await new Promise<number | null>((resolve) => child.child.once("exit", resolve)));
    expect(code).toBe(1);
    expect(output).toMatch(/is not this deployment's operator/);
  });

  it("quarantines poison inserted straight into the database, and settles every other session in the same round", async () => {
    const good = await pendingReceipts(2);
    const row = async (payer: Address) => own.receipt.findFirstOrThrow({ where: { payer } });
    // A voucher seq past the batch's 40 bits, and a cumulative maximum past its 96 bits.
    const wide = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await row(wide.payer.address)).id }, data: { seq: (1n << 64n).toString() } });
    const huge = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await row(huge.payer.address)).id }, data: { cumulativeMax: (1n << 100n).toString() } });
    // Charges that are not JSON, a record amount past 64 bits, and a voucher signature one byte short.
    const garbled = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await row(garbled.payer.address)).id }, data: { amountsJson: "not json" } });
    const overflow = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await row(overflow.payer.address)).id }, data: { amountsJson: JSON.stringify([[charges.slots[0].slot, (1n << 64n).toString()]]) } });
    const shortSig = await pendingReceipts(1);
    const shortRow = await row(shortSig.payer.address);
    await own.receipt.update({ where: { id: shortRow.id }, data: { signature: shortRow.signature.slice(0, -2) } });
    // A payer with nothing left on deposit (as after a withdrawal), and a voucher dated after its session ends.
    const broke = await pendingReceipts(1, 0n);
    const late = await pendingReceipts(1);
    const lateRow = await row(late.payer.address);
    await own.receipt.update({ where: { id: lateRow.id }, data: { issuedAt: lateRow.issuedAt + 7200 } });

    const round = await (await worker()).settleOnce();
    const status = async (payer: Address) => (await own.receipt.findMany({ where: { payer } })).map((r) => [r.status, r.failureReason]);
    expect(await statuses(good.payer.address)).toEqual(["settled", "settled"]);
    expect(await balance(good.payer.address)).toBe(500_000n - 2n * good.total);
    for (const who of [wide, huge, garbled, overflow, shortSig]) {
      const [[state, reason]] = await status(who.payer.address);
      expect(state).toBe("failed");
      expect(reason).toMatch(/^Quarantined: /);
      expect(await balance(who.payer.address)).toBe(500_000n);
    }
    // A bad record is the record's fault, not its session's: the session still takes questions.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: overflow.hash } })).revokedAt).toBeNull();
    // Rows that encode but that the contract skips: rejected with its reason, in the same transaction.
    expect(await status(broke.payer.address)).toEqual([["failed", "Rejected by the contract: InsufficientBalance"]]);
    expect((await status(late.payer.address))[0]).toEqual(["failed", "Rejected by the contract: VoucherInvalid"]);
    expect(round).toMatchObject({ settled: 2, failed: 2 });
    // Nothing is left to jam the next round.
    expect(await (await worker()).settleOnce()).toBeNull();
  });

  /** A mock smart wallet (contracts/test/utils/MockWallets.sol) with a deposit for this test's operator, as a payer with one answered query. */
  async function walletPayer(contract: string) {
    const address = await fx.smartWallet(contract, 500_000n, operator.address);
    // The wallet approves whatever it is asked: any signature bytes will do.
    return pendingReceipts(1, 0n, { address, signature: "0x01" });
  }

  it("settles smart-wallet payers that spend their whole budget, or answer a return-data bomb, only when mined: each in its own transaction", async () => {
    // Each approves at once under a gas estimate, then, when mined, burns nearly all the gas the contract
    // gives it, or answers with as much data as that gas buys (which the contract pays to copy). In the
    // batch with everyone else, a few of them ran every batch out of gas, round after round.
    const wallets = [];
    for (let i = 0; i < 4; i++) wallets.push(await walletPayer("TwoFacedWallet"));
    for (let i = 0; i < 2; i++) wallets.push(await walletPayer("TwoFacedBombWallet"));
    const honest = await pendingReceipts(2);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 8, failed: 0 });
    for (const who of wallets) {
      expect(await statuses(who.payer.address)).toEqual(["settled"]);
      expect(await balance(who.payer.address)).toBe(500_000n - who.total);
    }
    expect(await balance(honest.payer.address)).toBe(500_000n - 2n * honest.total);
  });

  it("takes no more questions on a session whose wallet approved it when asked off chain and refused it when settled", async () => {
    const liar = await walletPayer("EstimateOnlyWallet");
    const honest = await pendingReceipts(1);
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 1, failed: 1 });
    expect(await statuses(liar.payer.address)).toEqual(["failed"]);
    expect(await balance(liar.payer.address)).toBe(500_000n);
    // Closed for good: admission refuses a session with revokedAt set.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: liar.hash } })).revokedAt).not.toBeNull();
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: honest.hash } })).revokedAt).toBeNull();
  });

  it("marks a session the contract rejects as failed with the reason", async () => {
    const { payer } = await pendingReceipts(1);
    // Tamper with the stored voucher signature: the contract skips the session as BadSignature.
    const row = await own.receipt.findFirstOrThrow({ where: { payer: payer.address } });
    const sig = row.signature;
    await own.receipt.update({ where: { id: row.id }, data: { signature: sig.slice(0, 10) + (sig[10] === "a" ? "b" : "a") + sig.slice(11) } });
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 0, failed: 1 });
    const failed = await own.receipt.findUniqueOrThrow({ where: { id: row.id } });
    expect(failed.status).toBe("failed");
    expect(failed.failureReason).toMatch(/BadSignature/);
    expect(await balance(payer.address)).toBe(500_000n);
    // A session the contract will never take takes no more questions.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: row.sessionHash } })).revokedAt).not.toBeNull();
  });
});
