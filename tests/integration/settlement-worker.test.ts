// Settlement of chat vouchers on a real chain. End to end: paid questions over HTTP → the stack's
// settlement worker settles each account's newest voucher with the queries' records → each slot's revenue
// on chain equals its charges minus the protocol fee, exactly. Crash safety: a worker that dies after
// broadcasting (or before) loses no query and charges none twice; a settlement the database forgot, or a
// batch given up on and mined after all, is recognised from the chain (the account's settled seq and the
// settlement calldata), not charged again. Two workers on one database never send a receipt twice. Poison
// rows (oversize fields, expired or revoked sessions, a payer who withdrew, two vouchers with one seq)
// never stop the others: every other charge settles in the same round.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { createPublicClient, custom, encodeAbiParameters, hexToBigInt, http, keccak256, toHex, type Address, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "../../lib/chain/generated";
import type { ChargeSet, MessageCharge } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { hashSession, settlementOutcome, signSession, type AccountPosition, type Session } from "../../lib/protocol";
import { accountKey, accountOnChain, exactHeadroom } from "../../lib/chat/balance";
import type { ChainContext } from "../../lib/chat/charges";
import { accountReceipts } from "../../lib/chat/store";
import { SettlementWorker } from "../../lib/settlement/worker";
import { startSettlementWorker } from "../../scripts/stack";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";
import { voucherRow } from "../helpers/queries";

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
    for (const text of questions) {
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

  const ctx = () => ({ chainId: stack.chainId, settlement: fx.settlement });
  const now = () => BigInt(Math.floor(Date.now() / 1000));
  /** Every query charges the app, the model and the first dataset (the second was not in the context). */
  const queryRecord = () => charges.slots.filter((_, i) => i !== 3).map((s) => [s.slot, s.price]);
  const queryTotal = () => queryRecord().reduce((a, [, amount]) => a + BigInt(amount), 0n);
  const maxima = () => charges.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) }));

  /** A payer's account with this operator: where its vouchers stand (one sequence over all its sessions). */
  interface TestAccount {
    payer: { address: Address };
    wallet: PrivateKeyAccount | null;
    position: AccountPosition;
  }
  interface TestSession {
    key: PrivateKeyAccount;
    session: Session;
    hash: Hex;
  }

  /** A payer with `deposit` for this operator (none for a smart wallet, which deposits itself). */
  async function newAccount(deposit = 500_000n, smartWallet?: Address): Promise<TestAccount> {
    if (smartWallet) return { payer: { address: smartWallet }, wallet: null, position: { seq: 0n, cumulativeMax: 0n } };
    const payer = await fx.account();
    if (deposit > 0n) await fx.deposit(payer, deposit, operator.address);
    return { payer, wallet: payer, position: { seq: 0n, cumulativeMax: 0n } };
  }

  /** A session of the account, stored as the sessions route stores it (signed by the payer, or `signature` for a smart wallet). */
  async function newSession(account: TestAccount, options: { signature?: Hex; expiry?: bigint; spendCap?: bigint } = {}): Promise<TestSession> {
    const key = privateKeyToAccount(generatePrivateKey());
    const session: Session = {
      payer: account.payer.address,
      key: key.address,
      operator: operator.address,
      spendCap: options.spendCap ?? 400_000n,
      expiry: options.expiry ?? now() + 3600n,
      nonce: BigInt(Math.floor(Math.random() * 1e9)),
    };
    const hash = hashSession(session);
    await own.paymentSession.create({
      data: {
        hash,
        chainId: stack.chainId,
        settlement: fx.settlement,
        payer: account.payer.address,
        key: key.address,
        operator: operator.address,
        spendCap: session.spendCap.toString(),
        expiry: Number(session.expiry),
        nonce: session.nonce.toString(),
        signature: options.signature ?? (await signSession(account.wallet!, ctx(), session)),
      },
    });
    return { key, session, hash };
  }

  /** `count` answered queries of the account through `session`: its next vouchers, each with its record. Returns the rows' ids. */
  async function addReceipts(account: TestAccount, session: TestSession, count: number, options: { issuedAt?: bigint; status?: string; payer?: string } = {}) {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const { position, row } = await voucherRow(session.key, ctx(), session.hash, account.position, maxima(), options.issuedAt ?? now());
      account.position = position;
      const stored = await own.receipt.create({
        data: {
          chainId: stack.chainId,
          settlement: fx.settlement,
          operator: operator.address,
          payer: options.payer ?? account.payer.address,
          ...row,
          sessionHash: session.hash,
          amountsJson: JSON.stringify(queryRecord()),
          maxTotal: charges.maxTotal,
          total: queryTotal().toString(),
          inputTokens: 120,
          outputTokens: 30,
          recordHash: keccak256(toHex(`query ${account.payer.address} ${row.seq} ${session.hash}`)),
          status: options.status ?? "pending",
          appId: created.app.id,
          conversationId: "settlement-test",
        },
      });
      ids.push(stored.id);
    }
    return ids;
  }

  /**
   * A payer with a deposit for this operator, a session, and `count` answered queries in `own`: the
   * account's vouchers 1..count.
   */
  async function pendingReceipts(count: number, deposit = 500_000n, wallet?: { address: Address; signature: Hex }) {
    const account = await newAccount(deposit, wallet?.address);
    const session = await newSession(account, { signature: wallet?.signature });
    const ids = await addReceipts(account, session, count);
    return { payer: account.payer, total: queryTotal(), hash: session.hash, account, session, ids };
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

  const rowsOf = (payer: Address) => own.receipt.findMany({ where: { payer: { equals: payer, mode: "insensitive" } }, orderBy: [{ seq: "asc" }, { createdAt: "asc" }] });
  const statuses = async (payer: Address) => (await rowsOf(payer)).map((r) => r.status);
  const outcomesOf = async (payer: Address) => (await rowsOf(payer)).map((r) => [r.status, r.failureReason]);

  /** How many times each record hash was settled on chain by this operator (items the contract did not reject), from the calldata alone. */
  async function settledOnChain(): Promise<Map<string, number>> {
    const logs = await fx.client.getContractEvents({
      address: fx.settlement,
      abi: kipSettlementAbi,
      eventName: "BatchSettled",
      args: { operator: operator.address },
      fromBlock: BigInt(stack.deployment.startBlock),
    });
    const counts = new Map<string, number>();
    for (const hash of new Set(logs.map((l) => l.transactionHash))) {
      const [tx, receipt] = await Promise.all([fx.client.getTransaction({ hash }), fx.client.getTransactionReceipt({ hash })]);
      for (const item of settlementOutcome(tx.input, tx.from, fx.settlement, receipt.logs)) {
        if (item.rejected !== null) continue;
        for (const record of item.records ?? []) counts.set(record.recordHash.toLowerCase(), (counts.get(record.recordHash.toLowerCase()) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Each of these rows' records was settled on chain exactly as often as `times` says. */
  async function expectSettledTimes(ids: readonly string[], times: number) {
    const onChain = await settledOnChain();
    const rows = await own.receipt.findMany({ where: { id: { in: [...ids] } } });
    expect(rows.map((r) => onChain.get(r.recordHash!.toLowerCase()) ?? 0)).toEqual(rows.map(() => times));
  }

  /** The settlement contract holds exactly the deposits and the unclaimed fees (read at one block). */
  async function expectConservation() {
    const blockNumber = await fx.client.getBlockNumber();
    const [held, deposits, fees] = await Promise.all([
      fx.client.readContract({ address: stack.deployment.paymentToken as Address, abi: mockUsdAbi, functionName: "balanceOf", args: [fx.settlement], blockNumber }),
      fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "totalDeposits", blockNumber }),
      fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "feesAccrued", blockNumber }),
    ]);
    expect(held).toBe(deposits + fees);
  }

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

  /** A worker settles once and dies after storing the signed transaction, before broadcasting it; returns the batch. */
  async function crashBeforeBroadcast() {
    let batchId: string | undefined;
    const crashing = await worker({
      afterRecord: (id) => {
        batchId = id;
        throw new Error("killed before broadcast");
      },
    });
    await expect(crashing.settleOnce()).rejects.toThrow("killed before broadcast");
    return own.settlementBatch.findUniqueOrThrow({ where: { id: batchId! } });
  }

  it("dies after broadcasting: the restart finds the transaction and records it once", async () => {
    const { payer, total, ids } = await pendingReceipts(3);
    const broadcast = await crashAfterBroadcast();
    expect(await statuses(payer.address)).toEqual(["sending", "sending", "sending"]);

    const restarted = await worker();
    await restarted.reconcile();
    const rows = await rowsOf(payer.address);
    expect(rows.map((r) => [r.status, r.txHash])).toEqual(rows.map(() => ["settled", broadcast]));
    expect(await restarted.settleOnce()).toBeNull();
    expect(await balance(payer.address)).toBe(500_000n - 3n * total);
    await expectSettledTimes(ids, 1);
  });

  it("dies after recording but before broadcasting: the restart sends the same transaction", async () => {
    const { payer, total } = await pendingReceipts(2);
    const batch = await crashBeforeBroadcast();
    expect(batch.rawTx).toMatch(/^0x/);
    expect(await balance(payer.address)).toBe(500_000n);

    await (await worker()).reconcile();
    expect(await statuses(payer.address)).toEqual(["settled", "settled"]);
    const rows = await rowsOf(payer.address);
    expect(new Set(rows.map((r) => r.txHash))).toEqual(new Set([batch.txHash]));
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
  });

  it("dies before broadcasting a transaction that never reaches the chain: the restart finds the account unsettled and sends again", async () => {
    const { payer, total, hash } = await pendingReceipts(2);
    const batch = await crashBeforeBroadcast();
    // The stored transaction is lost (as if its nonce was taken by another transaction meanwhile).
    await own.settlementBatch.update({ where: { id: batch.id }, data: { rawTx: null } });
    const restarted = await worker();
    await restarted.reconcile();
    expect(await statuses(payer.address)).toEqual(["pending", "pending"]);
    expect((await own.settlementBatch.findUniqueOrThrow({ where: { id: batch.id } })).status).toBe("abandoned");
    expect(await restarted.settleOnce()).toMatchObject({ settled: 2, failed: 0 });
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash } })).settledSeq).toBe("2");
  });

  describe("the payer's headroom while a settlement lands", () => {
    const chainOf = (client: PublicClient = fx.client): ChainContext => ({
      chainId: stack.chainId,
      assets: stack.deployment.assets as Address,
      settlement: fx.settlement,
      operator: operator.address,
      client,
    });
    /** A naive reading: the balance on chain less every open receipt, whatever seq the chain has settled. */
    const quick = async (payer: Address) => {
      const { open } = await accountReceipts(own, accountKey(chainOf(), payer));
      const account = await accountOnChain(chainOf(), payer);
      return account.balance - account.withdrawal - open.reduce((sum, r) => sum + r.held, 0n);
    };

    it("counts receipts that are mined but still recorded as being sent once", async () => {
      const { payer, total } = await pendingReceipts(3);
      const broadcast = await crashAfterBroadcast();
      await fx.client.waitForTransactionReceipt({ hash: broadcast });
      expect(await statuses(payer.address)).toEqual(["sending", "sending", "sending"]);
      // Paid on chain and still held in the database: the naive reading counts them twice.
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

  it("cannot charge twice when the database lost track of a settlement: the chain's settled seq says it was paid, and by which transaction", async () => {
    const { payer, total, hash, ids } = await pendingReceipts(2);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 2, failed: 0 });
    // The database forgets (restored from an old backup): both rows and the session look unsettled.
    await own.receipt.updateMany({ where: { payer: payer.address }, data: { status: "pending", txHash: null, batchId: null } });
    await own.paymentSession.update({ where: { hash }, data: { settledSeq: "0" } });
    // The account's seq on chain is past both: nothing is sent, and they are recorded as paid by the
    // transaction that carried their records.
    expect(await (await worker()).settleOnce()).toBeNull();
    expect((await rowsOf(payer.address)).map((r) => [r.status, r.txHash])).toEqual([
      ["settled", round!.txHash],
      ["settled", round!.txHash],
    ]);
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
    await expectSettledTimes(ids, 1);
  });

  it("records a replayed settled voucher as paid once: a batch given up on and mined after all is found when the newer one is refused as stale", async () => {
    const { payer, total, ids } = await pendingReceipts(2);
    const batch = await crashBeforeBroadcast();
    // As if the restart had given the batch up while its transaction was still on its way: the rows went
    // back to pending, and the stored transaction is mined after all, while the next round is being built.
    await own.$transaction([
      own.receipt.updateMany({ where: { batchId: batch.id }, data: { status: "pending", batchId: null } }),
      own.settlementBatch.update({ where: { id: batch.id }, data: { status: "abandoned" } }),
    ]);
    const next = await worker({
      afterChainRead: async () => {
        const hash = await fx.client.sendRawTransaction({ serializedTransaction: batch.rawTx as Hex });
        expect((await fx.client.waitForTransactionReceipt({ hash })).status).toBe("success");
      },
    });
    // The round read the account before the old transaction landed, so it sends the same queries again
    // under the same voucher: the contract refuses it as stale, and the worker finds where they were paid.
    const round = await next.settleOnce();
    expect(round).toMatchObject({ settled: 0 });
    expect((await rowsOf(payer.address)).map((r) => [r.status, r.txHash])).toEqual([
      ["settled", batch.txHash],
      ["settled", batch.txHash],
    ]);
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
    await expectSettledTimes(ids, 1);

    // The settled batch's calldata sent again by the operator: every item is stale, nothing moves.
    const input = (await fx.client.getTransaction({ hash: batch.txHash as Hex })).input;
    const replay = await fx.client.waitForTransactionReceipt({ hash: await fx.wallet(operator).sendTransaction({ to: fx.settlement, data: input }) });
    expect(settlementOutcome(input, operator.address, fx.settlement, replay.logs).map((o) => o.rejected)).toEqual(["StaleVoucher"]);
    expect(await balance(payer.address)).toBe(500_000n - 2n * total);
    await expectSettledTimes(ids, 1);
    await expectConservation();
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

  it("settles an account in steps: the second settlement covers the queries after the seq the first left on chain", async () => {
    const { payer, total, hash } = await pendingReceipts(3);
    // Only the first query is answered when the worker runs; the next two are still being written.
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: { in: ["2", "3"] } }, data: { status: "answering" } });
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 1, failed: 0 });
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash } })).settledSeq).toBe("1");
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: { in: ["2", "3"] } }, data: { status: "pending" } });
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 2, failed: 0 });
    expect(await statuses(payer.address)).toEqual(["settled", "settled", "settled"]);
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash } })).settledSeq).toBe("3");
    expect(await balance(payer.address)).toBe(500_000n - 3n * total);
  });

  it("settles many accounts in one round, moving each session's settled seq forward only (a malformed stored seq counts as 0)", async () => {
    const accounts = await Promise.all([pendingReceipts(2), pendingReceipts(3), pendingReceipts(1)]);
    // Already past this round's voucher (a later settlement recorded first): kept. Not a canonical number: replaced.
    await own.paymentSession.update({ where: { hash: accounts[0].hash }, data: { settledSeq: "7" } });
    await own.paymentSession.update({ where: { hash: accounts[1].hash }, data: { settledSeq: "05" } });
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 6, failed: 0 });
    const seqs = await Promise.all(accounts.map(async ({ hash }) => (await own.paymentSession.findUniqueOrThrow({ where: { hash } })).settledSeq));
    expect(seqs).toEqual(["7", "3", "1"]);
    for (const { payer, total, ids } of accounts) {
      expect(await statuses(payer.address)).toEqual(ids.map(() => "settled"));
      expect(await balance(payer.address)).toBe(500_000n - BigInt(ids.length) * total);
    }
  });

  it("settles an account's queries through several of its sessions under the newest voucher, whichever session signed it", async () => {
    const account = await newAccount();
    const phone = await newSession(account);
    const laptop = await newSession(account);
    const ids = [...(await addReceipts(account, phone, 2)), ...(await addReceipts(account, laptop, 1)), ...(await addReceipts(account, phone, 1))];
    // The second to last one was voided (stopped before its first token): it has no record, and the
    // phone's voucher 4 still covers it.
    await own.receipt.update({ where: { id: ids[2] }, data: { status: "void" } });
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 3, failed: 0 });
    expect(await statuses(account.payer.address)).toEqual(["settled", "settled", "void", "settled"]);
    const onChain = await fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "accountOf", args: [account.payer.address, operator.address] });
    expect(onChain).toMatchObject({ seq: 4, charged: 3n * queryTotal(), balance: 500_000n - 3n * queryTotal() });
    // The session whose voucher settled remembers it; the other's newest settled voucher is none of its own.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: phone.hash } })).settledSeq).toBe("4");
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: laptop.hash } })).settledSeq).toBe("0");
  });

  it("waits for an earlier answer still being written before settling later ones under a newer voucher", async () => {
    const { payer, hash } = await pendingReceipts(2);
    await own.receipt.updateMany({ where: { sessionHash: hash, seq: "1" }, data: { status: "answering" } });
    // Settling voucher 2 now would leave query 1's record with no voucher to settle under: nothing is sent.
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
    const rows = await rowsOf(payer.address);
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

  describe("two workers on one database", () => {
    it("a worker that read the chain before the other settled sends nothing twice, and only what came after", async () => {
      const { account, session, ids, total } = await pendingReceipts(3);
      const first = await worker();
      let later: string[] = [];
      const second = await worker({
        // Between the second worker's chain reading and its reading of the receipts, the first settles
        // all three, and a fourth query is answered.
        afterChainRead: async () => {
          if (later.length) return;
          expect(await first.settleOnce()).toMatchObject({ settled: 3 });
          later = await addReceipts(account, session, 1);
        },
      });
      // It still thinks the account is at seq 0, but settles only query 4 (the others are settled here).
      expect(await second.settleOnce()).toMatchObject({ settled: 1, failed: 0 });
      expect(await statuses(account.payer.address)).toEqual(["settled", "settled", "settled", "settled"]);
      expect(await balance(account.payer.address)).toBe(500_000n - 4n * total);
      await expectSettledTimes([...ids, ...later], 1);
    });

    it("a worker that runs while the other's batch is being sent leaves that batch alone", async () => {
      const { payer, ids, total } = await pendingReceipts(2);
      const second = await worker();
      const seen: (Awaited<ReturnType<SettlementWorker["settleOnce"]>> | undefined)[] = [];
      const first = await worker({
        afterRecord: async () => void seen.push(await second.settleOnce()),
        afterBroadcast: async () => void seen.push(await second.settleOnce()),
      });
      expect(await first.settleOnce()).toMatchObject({ settled: 2, failed: 0 });
      // Recorded and not yet broadcast, then broadcast and perhaps mined: both times nothing to send.
      expect(seen).toEqual([null, null]);
      expect(await balance(payer.address)).toBe(500_000n - 2n * total);
      await expectSettledTimes(ids, 1);
    });

    it("two workers settling at the same moment claim each receipt once", async () => {
      const accounts = await Promise.all([1, 2, 3].map((n) => pendingReceipts(n)));
      const workers = await Promise.all([worker(), worker()]);
      const rounds = await Promise.allSettled(workers.map((w) => w.settleOnce()));
      // At most one of them claimed the rows; the other found them taken (or already settled).
      for (const round of rounds) if (round.status === "rejected") expect(String(round.reason)).toMatch(/another worker claimed/);
      for (const w of workers) {
        await w.reconcile();
        while (await w.settleOnce());
      }
      for (const { payer, total, ids } of accounts) {
        expect(new Set(await statuses(payer.address))).toEqual(new Set(["settled"]));
        expect(await balance(payer.address)).toBe(500_000n - BigInt(ids.length) * total);
        await expectSettledTimes(ids, 1);
      }
    });
  });

  it("settles one of two vouchers with the same seq, and quarantines the other", async () => {
    const account = await newAccount();
    const phone = await newSession(account);
    const laptop = await newSession(account);
    const [kept] = await addReceipts(account, phone, 1);
    // The laptop's voucher 1 as well, stored under the payer's address spelled in lower case (which the
    // database's own uniqueness does not catch), then its voucher 2.
    account.position = { seq: 0n, cumulativeMax: 0n };
    const [twin] = await addReceipts(account, laptop, 1, { payer: account.payer.address.toLowerCase() });
    const [next] = await addReceipts(account, laptop, 1);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 2, failed: 0 });
    const byId = new Map((await rowsOf(account.payer.address)).map((r) => [r.id, [r.status, r.failureReason]]));
    expect(byId.get(kept)).toEqual(["settled", null]);
    expect(byId.get(next)).toEqual(["settled", null]);
    expect(byId.get(twin)).toEqual(["failed", "Quarantined: another voucher of the account has seq 1"]);
    expect(await balance(account.payer.address)).toBe(500_000n - 2n * queryTotal());
    await expectSettledTimes([kept, next], 1);
    await expectSettledTimes([twin], 0);
  });

  it("quarantines poison inserted straight into the database, and settles every other charge in the same round", async () => {
    const good = await pendingReceipts(2);
    const only = async (payer: Address) => (await rowsOf(payer))[0];
    // Oversize fields: a voucher seq past the batch's 40 bits, a cumulative maximum past its 96 bits, a
    // record amount past 64 bits, a token count past 24 bits, a session's spend cap past 96 bits.
    const wide = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(wide.payer.address)).id }, data: { seq: (1n << 64n).toString() } });
    const huge = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(huge.payer.address)).id }, data: { cumulativeMax: (1n << 100n).toString() } });
    const overflow = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(overflow.payer.address)).id }, data: { amountsJson: JSON.stringify([[charges.slots[0].slot, (1n << 64n).toString()]]) } });
    const verbose = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(verbose.payer.address)).id }, data: { inputTokens: 1 << 24 } });
    const capped = await newAccount();
    const cappedSession = await newSession(capped, { spendCap: 1n << 100n, signature: "0x01" });
    await addReceipts(capped, cappedSession, 1);
    // Garbage: charges that are not JSON, a voucher signature one byte short, a seq that is not a number,
    // a receipt whose session is another payer's.
    const garbled = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(garbled.payer.address)).id }, data: { amountsJson: "not json" } });
    const shortSig = await pendingReceipts(1);
    const shortRow = await only(shortSig.payer.address);
    await own.receipt.update({ where: { id: shortRow.id }, data: { signature: shortRow.signature.slice(0, -2) } });
    const nan = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(nan.payer.address)).id }, data: { seq: "1e3" } });
    const borrowed = await pendingReceipts(1);
    await own.receipt.update({ where: { id: (await only(borrowed.payer.address)).id }, data: { sessionHash: good.hash } });
    // In the middle of an account: its second query's record is past 64 bits; the first and third settle
    // under the third's voucher.
    const middle = await pendingReceipts(3);
    await own.receipt.update({ where: { id: middle.ids[1] }, data: { amountsJson: JSON.stringify([[charges.slots[0].slot, (1n << 64n).toString()]]) } });
    // Sessions that can no longer sign: a voucher dated after its session ended, and one dated after its
    // session was revoked on chain; the account's earlier query settles in both.
    const late = await pendingReceipts(1);
    await addReceipts(late.account, late.session, 1, { issuedAt: late.session.session.expiry + 7200n });
    const revoked = await pendingReceipts(1);
    const revocation = await fx.client.waitForTransactionReceipt({
      hash: await fx.wallet(revoked.account.wallet!).writeContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "revokeSession", args: [revoked.session.session] }),
    });
    expect(revocation.status).toBe("success");
    const revokedAt = await fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "revokedAt", args: [revoked.hash] });
    await addReceipts(revoked.account, revoked.session, 1, { issuedAt: revokedAt + 1n });
    // An expired session's vouchers issued while it was live still settle.
    const expired = await newAccount();
    const expiredSession = await newSession(expired, { expiry: now() - 60n });
    await addReceipts(expired, expiredSession, 1, { issuedAt: now() - 120n });
    // A payer with nothing on deposit: the one poison the contract itself must refuse.
    const broke = await pendingReceipts(1, 0n);

    const round = await (await worker()).settleOnce();
    expect(await statuses(good.payer.address)).toEqual(["settled", "settled"]);
    expect(await balance(good.payer.address)).toBe(500_000n - 2n * good.total);
    for (const who of [wide, huge, overflow, verbose, garbled, shortSig, nan, borrowed]) {
      const [[state, reason]] = await outcomesOf(who.payer.address);
      expect(state).toBe("failed");
      expect(reason).toMatch(/^Quarantined: /);
      expect(await balance(who.payer.address)).toBe(500_000n);
    }
    expect((await outcomesOf(capped.payer.address))[0]).toEqual(["failed", expect.stringMatching(/^Quarantined: .*spendCap must fit uint96/)]);
    expect(await outcomesOf(middle.payer.address)).toEqual([
      ["settled", null],
      ["failed", expect.stringMatching(/^Quarantined: its record cannot be encoded/)],
      ["settled", null],
    ]);
    expect(await balance(middle.payer.address)).toBe(500_000n - 2n * middle.total);
    expect(await outcomesOf(late.payer.address)).toEqual([
      ["settled", null],
      ["failed", "Quarantined: its voucher cannot be settled (it was issued after its session expired)"],
    ]);
    expect(await outcomesOf(revoked.payer.address)).toEqual([
      ["settled", null],
      ["failed", "Quarantined: its voucher cannot be settled (it was issued after its session was revoked)"],
    ]);
    expect(await statuses(expired.payer.address)).toEqual(["settled"]);
    // A bad record is the record's fault, not its session's: the session still takes questions.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: overflow.hash } })).revokedAt).toBeNull();
    // A row that encodes but that the contract skips: rejected with its reason, in the same transaction.
    expect(await outcomesOf(broke.payer.address)).toEqual([["failed", "Rejected by the contract: InsufficientBalance"]]);
    expect(round).toMatchObject({ settled: 2 + 2 + 1 + 1 + 1, failed: 1 });
    // Nothing is left to jam the next round.
    expect(await (await worker()).settleOnce()).toBeNull();
    await expectConservation();
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
      // The contract recorded the wallet's approval: the session's next voucher travels without a signature.
      expect(await fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "walletApproved", args: [who.hash] })).toBe(true);
    }
    expect(await balance(honest.payer.address)).toBe(500_000n - 2n * honest.total);
    const [wallet] = wallets;
    await addReceipts(wallet.account, wallet.session, 1);
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 1, failed: 0 });
    expect(await balance(wallet.payer.address)).toBe(500_000n - 2n * wallet.total);
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

  it("marks an account whose voucher the contract rejects as failed with the reason, and closes the voucher's session", async () => {
    const { payer, ids } = await pendingReceipts(2);
    // Tamper with the stored signature of the newest voucher: the contract skips the item as BadSignature.
    const row = await own.receipt.findUniqueOrThrow({ where: { id: ids[1] } });
    const sig = row.signature;
    await own.receipt.update({ where: { id: row.id }, data: { signature: sig.slice(0, 10) + (sig[10] === "a" ? "b" : "a") + sig.slice(11) } });
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 0, failed: 2 });
    expect(await outcomesOf(payer.address)).toEqual(ids.map(() => ["failed", "Rejected by the contract: BadSignature"]));
    expect(await balance(payer.address)).toBe(500_000n);
    // A session the contract will never take takes no more questions.
    expect((await own.paymentSession.findUniqueOrThrow({ where: { hash: row.sessionHash } })).revokedAt).not.toBeNull();
  });

  /**
   * The delay of `payer`'s withdrawal request passes, for that request only: its readyAt (KipSettlement's
   * `_withdrawals[payer][operator]`, storage slot 7: amount in bits 0..127, readyAt in 128..191) is set to
   * the chain's time, so the chain's clock, which every other test's permits and sessions count on, stays.
   */
  async function matureWithdrawal(payer: Address) {
    const inner = keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [payer, 7n]));
    const slot = keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [operator.address, inner]));
    const word = hexToBigInt((await fx.client.getStorageAt({ address: fx.settlement, slot }))!);
    const request = await fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [payer, operator.address] });
    // The layout is the one assumed here: the word holds exactly the request withdrawalOf reads.
    expect([word & ((1n << 128n) - 1n), (word >> 128n) & ((1n << 64n) - 1n)]).toEqual([request.amount, BigInt(request.readyAt)]);
    const readyAt = (await fx.client.getBlock()).timestamp;
    await rpc("anvil_setStorageAt", [fx.settlement, slot, toHex((word & ((1n << 128n) - 1n)) | (readyAt << 128n), { size: 32 })]);
  }

  it("withdrawal racing settlement: what the operator settles within the delay is paid, the withdrawal takes the rest, and a payer who withdrew first is the only one refused", async () => {
    const send = async (who: TestAccount, functionName: "requestWithdraw" | "withdraw", args: readonly unknown[]) => {
      const hash = await fx.wallet(who.wallet!).writeContract({ address: fx.settlement, abi: kipSettlementAbi, functionName, args: args as never });
      const receipt = await fx.client.waitForTransactionReceipt({ hash });
      expect(receipt.status).toBe("success");
      return receipt;
    };
    // One payer asks to withdraw everything while three answered queries wait: the funds stay there
    // until the delay has passed, and the operator settles the queries within it.
    const racer = await pendingReceipts(3);
    await send(racer.account, "requestWithdraw", [operator.address, 500_000n]);
    await expect(
      fx.client.simulateContract({ account: racer.account.wallet!, address: fx.settlement, abi: kipSettlementAbi, functionName: "withdraw", args: [operator.address] }),
    ).rejects.toThrow(/WithdrawalNotReady/);
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 3, failed: 0 });
    // Another payer asks too, and withdraws before the worker ever sees its queries.
    const leaver = await pendingReceipts(2);
    await send(leaver.account, "requestWithdraw", [operator.address, 500_000n]);
    await matureWithdrawal(racer.payer.address);
    await matureWithdrawal(leaver.payer.address);
    const tokenBalance = (who: Address) => fx.client.readContract({ address: stack.deployment.paymentToken as Address, abi: mockUsdAbi, functionName: "balanceOf", args: [who] });
    const racerBefore = await tokenBalance(racer.payer.address);
    await send(racer.account, "withdraw", [operator.address]);
    // The withdrawal pays what is left, never what the settled queries took.
    expect((await tokenBalance(racer.payer.address)) - racerBefore).toBe(500_000n - 3n * racer.total);
    expect(await balance(racer.payer.address)).toBe(0n);
    await send(leaver.account, "withdraw", [operator.address]);
    expect(await balance(leaver.payer.address)).toBe(0n);
    await expectConservation();

    // Next round: the leaver's queries are refused by the contract; everyone else's still settle.
    const stayer = await pendingReceipts(2);
    const round = await (await worker()).settleOnce();
    expect(round).toMatchObject({ settled: 2, failed: 2 });
    expect(await outcomesOf(leaver.payer.address)).toEqual(leaver.ids.map(() => ["failed", "Rejected by the contract: InsufficientBalance"]));
    expect(await statuses(stayer.payer.address)).toEqual(["settled", "settled"]);
    expect(await balance(stayer.payer.address)).toBe(500_000n - 2n * stayer.total);
    // A query answered after the racer's withdrawal has nothing left to pay it either.
    await addReceipts(racer.account, racer.session, 1);
    expect(await (await worker()).settleOnce()).toMatchObject({ settled: 0, failed: 1 });
    await expectSettledTimes(racer.ids, 1);
    await expectConservation();
  });
});
