// The settlement worker: submits pending receipts to KipSettlement.settle in packed batches, and never
// loses or double-sends one, whatever moment it crashes at.
//
//   1. pending receipts are claimed into a batch recorded as "sending" (one DB transaction);
//   2. the transaction is built and signed here, and its raw bytes and hash are stored with the batch;
//   3. only then is it broadcast; its events decide each receipt: ReceiptSettled → settled (with the
//      transaction hash), ReceiptRejected → failed with the contract's reason.
// On start, `reconcile` looks at every batch still "sending": a mined transaction is applied; a stored
// one is re-broadcast (same nonce, same bytes: it can only be mined once); anything else is checked
// receipt by receipt against the chain (KipSettlement.nonceUsed + the ReceiptSettled event), and what
// the chain has not settled goes back to pending. The contract rejects a replayed (payer, nonce), and a
// "Replayed" rejection is looked up on chain, so a receipt that was settled by an earlier transaction is
// marked settled, never failed, and never charged twice.
import {
  createPublicClient,
  decodeEventLog,
  encodeFunctionData,
  getAddress,
  http,
  keccak256,
  type Address,
  type Hex,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import type { Db } from "@/lib/db-client";
import { encodeBatch, rejectReasonName, MAX_SLOTS_PER_BATCH, decodeCharges, type BatchReceipt, type BatchSession } from "@/lib/protocol";

export interface SettlementWorkerOptions {
  db: Db;
  rpcUrl: string;
  chainId: number;
  settlement: Address;
  /** The settler's key (it pays the gas). */
  account: PrivateKeyAccount;
  batchSize: number;
  /** First block to search for ReceiptSettled events (the deployment's start block). */
  fromBlock?: bigint;
  /** A receipt still "answering" after this long belongs to an answer that never finished: voided. */
  answerTimeoutMs?: number;
  /** How long to wait for a broadcast batch to be mined. */
  confirmTimeoutMs?: number;
  log?: (line: string) => void;
  /** Called between the steps of a round (tests use them to stop the process at the worst moments). */
  hooks?: { afterRecord?: (batchId: string) => Promise<void> | void; afterBroadcast?: (batchId: string, txHash: Hex) => Promise<void> | void };
  client?: PublicClient;
}

export interface RoundResult {
  batchId: string;
  txHash: Hex;
  settled: number;
  failed: number;
}

type ReceiptRow = Awaited<ReturnType<Db["receipt"]["findMany"]>>[number];

/** Seconds before its deadline a receipt is no longer worth sending. */
const DEADLINE_MARGIN_SECONDS = 30;

export class SettlementWorker {
  readonly client: PublicClient;
  private readonly log: (line: string) => void;

  constructor(private readonly options: SettlementWorkerOptions) {
    this.client = options.client ?? (createPublicClient({ transport: http(options.rpcUrl, { timeout: 15_000, retryCount: 1 }) }) as PublicClient);
    this.log = options.log ?? ((line) => console.log(line));
  }

  private get scope() {
    return { chainId: this.options.chainId, settlement: this.options.settlement };
  }

  /** Resolves every batch a previous run left "sending". */
  async reconcile(): Promise<void> {
    const batches = await this.options.db.settlementBatch.findMany({ where: { ...this.scope, status: "sending" }, orderBy: { createdAt: "asc" } });
    for (const batch of batches) {
      this.log(`reconciling batch ${batch.id} (${batch.txHash ?? "never signed"})`);
      let receipt: TransactionReceipt | null = null;
      if (batch.txHash) receipt = await this.client.getTransactionReceipt({ hash: batch.txHash as Hex }).catch(() => null);
      if (!receipt && batch.rawTx) {
        await this.client.sendRawTransaction({ serializedTransaction: batch.rawTx as Hex }).catch((error: unknown) => {
          this.log(`re-broadcast of ${batch.txHash} not accepted: ${String(error).split("\n")[0]}`);
        });
        receipt = await this.client
          .waitForTransactionReceipt({ hash: batch.txHash as Hex, timeout: Math.min(this.options.confirmTimeoutMs ?? 60_000, 30_000) })
          .catch(() => null);
      }
      if (receipt) await this.applyTransaction(batch.id, receipt);
      else await this.resolveFromChain(batch.id);
    }
  }

  /** One round: void stale answers, then send one batch of pending receipts (null when there is none). */
  async settleOnce(): Promise<RoundResult | null> {
    const { db } = this.options;
    const now = Math.floor(Date.now() / 1000);
    const stale = new Date(Date.now() - (this.options.answerTimeoutMs ?? 10 * 60_000));
    await db.receipt.updateMany({
      where: { ...this.scope, status: "answering", updatedAt: { lt: stale } },
      data: { status: "void", failureReason: "the answer never finished" },
    });
    await db.receipt.updateMany({
      where: { ...this.scope, status: "pending", deadline: { lt: now + DEADLINE_MARGIN_SECONDS } },
      data: { status: "failed", failureReason: "ReceiptExpired: its deadline passed before it could be settled" },
    });

    const candidates = await db.receipt.findMany({
      where: { ...this.scope, status: "pending" },
      orderBy: { createdAt: "asc" },
      take: this.options.batchSize,
      include: { session: true },
    });
    // At most 64 distinct slots and 255 sessions per batch.
    const slots = new Set<string>();
    const sessions = new Set<string>();
    const chosen: typeof candidates = [];
    for (const r of candidates) {
      const more = (JSON.parse(r.slotsJson) as string[]).filter((s) => !slots.has(s));
      if (slots.size + more.length > MAX_SLOTS_PER_BATCH || (!sessions.has(r.sessionHash) && sessions.size >= 255)) break;
      more.forEach((s) => slots.add(s));
      sessions.add(r.sessionHash);
      chosen.push(r);
    }
    if (chosen.length === 0) return null;

    // Sessions already registered on chain travel without their signature.
    const sessionRows = [...new Map(chosen.map((r) => [r.sessionHash, r.session])).values()];
    const registered = await Promise.all(
      sessionRows.map((s) =>
        this.client
          .readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "sessionState", args: [s.hash as Hex] })
          .then(([isRegistered]) => isRegistered),
      ),
    );
    const batchSessions: BatchSession[] = sessionRows.map((s, i) => ({
      session: { payer: s.payer as Address, key: s.key as Address, spendCap: BigInt(s.spendCap), expiry: BigInt(s.expiry), nonce: BigInt(s.nonce) },
      signature: registered[i] ? undefined : (s.signature as Hex),
    }));
    const sessionIndex = new Map(sessionRows.map((s, i) => [s.hash, i]));
    const batchReceipts: BatchReceipt[] = chosen.map((r) => ({
      sessionIndex: sessionIndex.get(r.sessionHash)!,
      receipt: {
        payer: r.payer as Address,
        slots: (JSON.parse(r.slotsJson) as string[]).map(BigInt),
        maxAmounts: (JSON.parse(r.maxAmountsJson) as string[]).map(BigInt),
        nonce: BigInt(r.nonce),
        deadline: BigInt(r.deadline),
      },
      signature: r.signature as Hex,
      amounts: (JSON.parse(r.amountsJson ?? r.maxAmountsJson) as string[]).map(BigInt),
    }));
    const data = encodeFunctionData({ abi: kipSettlementAbi, functionName: "settle", args: [encodeBatch({ sessions: batchSessions, receipts: batchReceipts })] });

    // 1. Claim the receipts into a batch recorded as "sending".
    const ids = chosen.map((r) => r.id);
    const batch = await db.$transaction(async (tx) => {
      const created = await tx.settlementBatch.create({ data: { ...this.scope, settler: this.options.account.address, status: "sending" } });
      const { count } = await tx.receipt.updateMany({ where: { id: { in: ids }, status: "pending" }, data: { status: "sending", batchId: created.id } });
      if (count !== ids.length) throw new Error("another worker claimed some of these receipts; retrying next round");
      return created;
    });

    // 2. Build and sign the transaction, and record it before it leaves this process.
    let rawTx: Hex;
    let txHash: Hex;
    try {
      const [nonce, gas, fees] = await Promise.all([
        this.client.getTransactionCount({ address: this.options.account.address, blockTag: "pending" }),
        this.client.estimateGas({ account: this.options.account.address, to: this.options.settlement, data }),
        this.client.estimateFeesPerGas(),
      ]);
      rawTx = await this.options.account.signTransaction({
        type: "eip1559",
        chainId: this.options.chainId,
        to: this.options.settlement,
        data,
        nonce,
        gas: (gas * 12n) / 10n,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      txHash = keccak256(rawTx);
      await db.settlementBatch.update({ where: { id: batch.id }, data: { rawTx, txHash, txNonce: nonce } });
    } catch (error) {
      // Nothing left this process: the receipts go back to pending for the next round.
      await this.abandon(batch.id, `could not prepare the transaction: ${String(error).split("\n")[0]}`);
      throw error;
    }
    await this.options.hooks?.afterRecord?.(batch.id);

    // 3. Broadcast, then apply what the chain says.
    await this.client.sendRawTransaction({ serializedTransaction: rawTx });
    await this.options.hooks?.afterBroadcast?.(batch.id, txHash);
    const receipt = await this.client.waitForTransactionReceipt({ hash: txHash, timeout: this.options.confirmTimeoutMs ?? 120_000 });
    const outcome = await this.applyTransaction(batch.id, receipt);
    this.log(`batch ${batch.id}: ${outcome.settled} settled, ${outcome.failed} failed (${txHash})`);
    return { batchId: batch.id, txHash, ...outcome };
  }

  /** Applies a mined batch transaction to its receipts. */
  async applyTransaction(batchId: string, txReceipt: TransactionReceipt): Promise<{ settled: number; failed: number }> {
    const { db } = this.options;
    const receipts = await db.receipt.findMany({ where: { batchId, status: "sending" } });
    if (txReceipt.status !== "success") {
      await this.abandon(batchId, `transaction ${txReceipt.transactionHash} reverted`, "reverted");
      return { settled: 0, failed: 0 };
    }
    const byKey = new Map(receipts.map((r) => [`${r.payer.toLowerCase()}:${r.nonce}`, r]));
    let settled = 0;
    let failed = 0;
    const handled = new Set<string>();
    for (const log of txReceipt.logs) {
      if (log.address.toLowerCase() !== this.options.settlement.toLowerCase()) continue;
      let event;
      try {
        event = decodeEventLog({ abi: kipSettlementAbi, data: log.data, topics: log.topics });
      } catch {
        continue;
      }
      if (event.eventName !== "ReceiptSettled" && event.eventName !== "ReceiptRejected") continue;
      const row = byKey.get(`${event.args.payer.toLowerCase()}:${event.args.nonce}`);
      if (!row) continue;
      handled.add(row.id);
      if (event.eventName === "ReceiptSettled") {
        this.checkCharges(row, event.args.charges);
        await this.markSettled(row.id, txReceipt.transactionHash);
        settled++;
      } else {
        const reason = rejectReasonName(event.args.reason);
        if (reason === "Replayed") {
          // Already settled by an earlier transaction (a batch re-sent after a crash): find it.
          const earlier = await this.findSettlement(row.payer as Address, BigInt(row.nonce));
          if (earlier) {
            await this.markSettled(row.id, earlier);
            settled++;
            continue;
          }
        }
        await db.receipt.update({ where: { id: row.id }, data: { status: "failed", failureReason: reason, txHash: txReceipt.transactionHash } });
        failed++;
      }
    }
    for (const row of receipts) if (!handled.has(row.id)) await this.resolveReceipt(row);
    await db.settlementBatch.update({ where: { id: batchId }, data: { status: "confirmed", txHash: txReceipt.transactionHash } });
    return { settled, failed };
  }

  /** Decides each receipt of a batch whose transaction is not on chain, from the chain's own records. */
  private async resolveFromChain(batchId: string): Promise<void> {
    const receipts = await this.options.db.receipt.findMany({ where: { batchId, status: "sending" } });
    for (const row of receipts) await this.resolveReceipt(row);
    await this.options.db.settlementBatch.update({ where: { id: batchId }, data: { status: "abandoned", error: "not on chain; receipts checked one by one" } });
  }

  private async resolveReceipt(row: ReceiptRow): Promise<void> {
    const used = await this.client.readContract({
      address: this.options.settlement,
      abi: kipSettlementAbi,
      functionName: "nonceUsed",
      args: [row.payer as Address, BigInt(row.nonce)],
    });
    const settledIn = used ? await this.findSettlement(row.payer as Address, BigInt(row.nonce)) : null;
    if (settledIn) await this.markSettled(row.id, settledIn);
    else await this.options.db.receipt.update({ where: { id: row.id }, data: { status: "pending", batchId: null } });
  }

  /** The transaction that settled (payer, nonce), from its ReceiptSettled event. */
  async findSettlement(payer: Address, nonce: bigint): Promise<Hex | null> {
    const logs = await this.client.getContractEvents({
      address: this.options.settlement,
      abi: kipSettlementAbi,
      eventName: "ReceiptSettled",
      args: { payer: getAddress(payer), nonce },
      fromBlock: this.options.fromBlock ?? 0n,
      toBlock: "latest",
    });
    return logs[0]?.transactionHash ?? null;
  }

  private async markSettled(id: string, txHash: Hex) {
    await this.options.db.receipt.update({ where: { id }, data: { status: "settled", txHash, failureReason: null } });
  }

  private checkCharges(row: ReceiptRow, charges: readonly bigint[]) {
    const expected = JSON.parse(row.amountsJson ?? row.maxAmountsJson) as string[];
    const got = decodeCharges(charges).map((c) => c.amount.toString());
    if (got.join() !== expected.join()) this.log(`receipt ${row.id} settled with charges ${got} instead of ${expected}`);
  }

  private async abandon(batchId: string, error: string, status = "abandoned") {
    await this.options.db.$transaction([
      this.options.db.receipt.updateMany({ where: { batchId, status: "sending" }, data: { status: "pending", batchId: null } }),
      this.options.db.settlementBatch.update({ where: { id: batchId }, data: { status, error: error.slice(0, 500) } }),
    ]);
    this.log(`batch ${batchId} ${status}: ${error}`);
  }

  /** Reconciles, then settles every `intervalMs` until `signal` aborts. */
  async run(intervalMs: number, signal: AbortSignal): Promise<void> {
    await this.reconcile().catch((error: unknown) => this.log(`reconcile failed: ${String(error).split("\n")[0]}`));
    while (!signal.aborted) {
      try {
        // Drain: keep sending while full batches are waiting.
        let round = await this.settleOnce();
        while (round && !signal.aborted && round.settled + round.failed >= this.options.batchSize) round = await this.settleOnce();
      } catch (error) {
        this.log(`round failed: ${String(error).split("\n")[0]}`);
        await this.reconcile().catch(() => undefined);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        const timer = setTimeout(wake, intervalMs);
        signal.addEventListener("abort", wake, { once: true });
      });
    }
  }
}
