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
//
// At start the worker checks that its account may settle (and can pay gas) and says what to do when not.
// A broadcast transaction not mined within `bumpAfterMs` is re-signed under the same nonce with higher
// fees (each replacement's bytes and hash are recorded first, like the original), so a fee spike never
// leaves receipts waiting behind an underpriced transaction. Chain scans go in ranges of `logRange`
// blocks, newest first, as public RPCs refuse unbounded log queries.
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
  WaitForTransactionReceiptTimeoutError,
} from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import { LOG_RANGE } from "@/lib/chain/indexer";
import { sleep } from "@/lib/settlement/lease";
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
  /** How long a broadcast transaction may stay unmined before it is re-sent with higher fees (45 s). */
  bumpAfterMs?: number;
  /** Blocks per log query (default LOG_RANGE). */
  logRange?: number;
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

interface SignedSettlement {
  data: Hex;
  nonce: number;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  rawTx: Hex;
  txHash: Hex;
}

type ReceiptRow = Awaited<ReturnType<Db["receipt"]["findMany"]>>[number];
/** A pending receipt with its spending session, as a batch is built from. */
type PendingRow = ReceiptRow & { session: Awaited<ReturnType<Db["paymentSession"]["findMany"]>>[number] };

const shortReason = (error: unknown) => (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error)).split("\n")[0].slice(0, 200);

/**
 * The items whose batch `simulate` accepts, found by bisection: when a set fails, each half is tried on
 * its own, down to single items, which are handed to `reject`. One bad item among n costs about 2·log2(n)
 * simulations, and every other item still goes into the batch. The survivors are simulated together once
 * more: halves that pass alone could fail together (they cannot today, as the contract rejects rather than
 * reverts for anything that depends on other receipts, but the batch sent must be one that passed).
 */
export async function isolateFailures<T>(items: readonly T[], simulate: (items: readonly T[]) => Promise<void>, reject: (item: T, error: unknown) => Promise<void>): Promise<T[]> {
  const bisect = async (set: readonly T[], knownBad: unknown): Promise<T[]> => {
    if (set.length === 1) {
      await reject(set[0], knownBad);
      return [];
    }
    const middle = Math.ceil(set.length / 2);
    const halves = [set.slice(0, middle), set.slice(middle)];
    const kept: T[] = [];
    for (const half of halves) {
      try {
        await simulate(half);
        kept.push(...half);
      } catch (error) {
        kept.push(...(await bisect(half, error)));
      }
    }
    return kept;
  };
  let survivors = [...items];
  for (;;) {
    if (survivors.length === 0) return [];
    try {
      await simulate(survivors);
      return survivors;
    } catch (error) {
      const kept = await bisect(survivors, error);
      // Nothing alone was bad, only the combination: send a smaller set now, the rest next round.
      survivors = kept.length === survivors.length ? kept.slice(0, Math.ceil(kept.length / 2)) : kept;
    }
  }
}

/** Seconds before its deadline a receipt is no longer worth sending. */
const DEADLINE_MARGIN_SECONDS = 30;

/** Each replacement pays at least this much more (nodes require ≥ 10 % to replace a pending transaction). */
const FEE_BUMP_PERCENT = 25n;

/** Why this worker cannot settle, with what to do about it (thrown by `checkAccount`). */
export class SettlerSetupError extends Error {
  override name = "SettlerSetupError";
}

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

  /**
   * Checks that the worker's account is an authorized settler and holds gas money; throws a
   * SettlerSetupError saying what to do otherwise.
   */
  async checkAccount(): Promise<void> {
    const { account, settlement } = this.options;
    const code = await this.client.getCode({ address: settlement });
    if (!code || code === "0x") {
      throw new SettlerSetupError(`No contract at ${settlement} on chain ${this.options.chainId}: check RPC_URL, CHAIN_ID and the deployment file.`);
    }
    const allowed = await this.client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "isSettler", args: [account.address] });
    if (!allowed) {
      throw new SettlerSetupError(
        `${account.address} (SETTLER_PRIVATE_KEY) is not an authorized settler of KipSettlement ${settlement}. ` +
          `The contract owner must call setSettler(${account.address}, true), or set SETTLER_PRIVATE_KEY to the key of an authorized settler.`,
      );
    }
    const balance = await this.client.getBalance({ address: account.address });
    if (balance === 0n) throw new SettlerSetupError(`${account.address} has no native currency to pay gas with: fund it, then restart.`);
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
      let rowSlots: string[];
      try {
        rowSlots = JSON.parse(r.slotsJson) as string[];
        if (!Array.isArray(rowSlots) || rowSlots.length > MAX_SLOTS_PER_BATCH) throw new Error(`${rowSlots.length} slots`);
      } catch (error) {
        await this.quarantine(r, `its slots cannot be read (${shortReason(error)})`);
        continue;
      }
      const more = rowSlots.map(String).filter((s) => !slots.has(s));
      if (slots.size + more.length > MAX_SLOTS_PER_BATCH || (!sessions.has(r.sessionHash) && sessions.size >= 255)) break;
      more.forEach((s) => slots.add(s));
      sessions.add(r.sessionHash);
      chosen.push(r);
    }
    if (chosen.length === 0) return null;

    // Sessions already registered on chain travel without their signature.
    const sessionRows = [...new Map(chosen.map((r) => [r.sessionHash, r.session])).values()];
    const registered = new Map(
      await Promise.all(
        sessionRows.map((s) =>
          this.client
            .readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "sessionState", args: [s.hash as Hex] })
            .then(([isRegistered]) => [s.hash, isRegistered] as const),
        ),
      ),
    );
    // No input can stop settlement: a receipt that cannot be encoded, or whose batch the contract would
    // revert, is quarantined with its reason; everything else settles in this round.
    const encodable: PendingRow[] = [];
    for (const row of chosen) {
      try {
        this.batchData([row], registered);
        encodable.push(row);
      } catch (error) {
        await this.quarantine(row, `it cannot be encoded for the contract (${shortReason(error)})`);
      }
    }
    const settleable = await isolateFailures(encodable, (rows) => this.simulate(this.batchData(rows, registered)), async (row, error) =>
      this.quarantine(row, `the contract refuses it (${shortReason(error)})`),
    );
    if (settleable.length === 0) return null;
    const data = this.batchData(settleable, registered);

    // 1. Claim the receipts into a batch recorded as "sending".
    const ids = settleable.map((r) => r.id);
    const batch = await db.$transaction(async (tx) => {
      const created = await tx.settlementBatch.create({ data: { ...this.scope, settler: this.options.account.address, status: "sending" } });
      const { count } = await tx.receipt.updateMany({ where: { id: { in: ids }, status: "pending" }, data: { status: "sending", batchId: created.id } });
      if (count !== ids.length) throw new Error("another worker claimed some of these receipts; retrying next round");
      return created;
    });

    // 2. Build and sign the transaction, and record it before it leaves this process.
    let rawTx: Hex;
    let txHash: Hex;
    let signed: SignedSettlement;
    try {
      const [nonce, gas, fees] = await Promise.all([
        this.client.getTransactionCount({ address: this.options.account.address, blockTag: "pending" }),
        this.client.estimateGas({ account: this.options.account.address, to: this.options.settlement, data }),
        this.client.estimateFeesPerGas(),
      ]);
      signed = await this.sign({ data, nonce, gas: (gas * 12n) / 10n, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas });
      ({ rawTx, txHash } = signed);
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
    const receipt = await this.waitMined(batch.id, signed);
    const outcome = await this.applyTransaction(batch.id, receipt);
    this.log(`batch ${batch.id}: ${outcome.settled} settled, ${outcome.failed} failed (${receipt.transactionHash})`);
    return { batchId: batch.id, txHash: receipt.transactionHash, ...outcome };
  }

  /** The `settle` calldata for `rows` (throws when a row cannot be encoded). */
  private batchData(rows: readonly PendingRow[], registered: ReadonlyMap<string, boolean>): Hex {
    const sessionRows = [...new Map(rows.map((r) => [r.sessionHash, r.session])).values()];
    const batchSessions: BatchSession[] = sessionRows.map((s) => ({
      session: { payer: s.payer as Address, key: s.key as Address, spendCap: BigInt(s.spendCap), expiry: BigInt(s.expiry), nonce: BigInt(s.nonce) },
      signature: registered.get(s.hash) ? undefined : (s.signature as Hex),
    }));
    const sessionIndex = new Map(sessionRows.map((s, i) => [s.hash, i]));
    const batchReceipts: BatchReceipt[] = rows.map((r) => ({
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
    return encodeFunctionData({ abi: kipSettlementAbi, functionName: "settle", args: [encodeBatch({ sessions: batchSessions, receipts: batchReceipts })] });
  }

  /** Runs `settle(data)` as the settler without sending it; throws what the contract would revert with. */
  private async simulate(data: Hex): Promise<void> {
    await this.client.call({ account: this.options.account.address, to: this.options.settlement, data });
  }

  /** Takes a receipt out of settlement for good, with the reason the chat shows on its message. */
  private async quarantine(row: PendingRow, why: string): Promise<void> {
    const reason = `Quarantined: ${why}`.slice(0, 300);
    await this.options.db.receipt.updateMany({ where: { id: row.id, status: "pending" }, data: { status: "failed", failureReason: reason } });
    this.log(`receipt ${row.id} ${reason}`);
  }

  private async sign(tx: Omit<SignedSettlement, "rawTx" | "txHash">): Promise<SignedSettlement> {
    const rawTx = await this.options.account.signTransaction({ type: "eip1559", chainId: this.options.chainId, to: this.options.settlement, ...tx });
    return { ...tx, rawTx, txHash: keccak256(rawTx) };
  }

  /**
   * Waits for a broadcast batch transaction; every `bumpAfterMs` it is still pending, re-signs it under the
   * same nonce with fees raised by FEE_BUMP_PERCENT (or to the current estimate, if higher), records the
   * replacement, and broadcasts it. Whichever version is mined is returned (viem follows replacements).
   */
  private async waitMined(batchId: string, first: SignedSettlement): Promise<TransactionReceipt> {
    const deadline = Date.now() + (this.options.confirmTimeoutMs ?? 120_000);
    const bumpAfterMs = this.options.bumpAfterMs ?? 45_000;
    let current = first;
    for (;;) {
      const timeout = Math.max(1, Math.min(bumpAfterMs, deadline - Date.now()));
      try {
        return await this.client.waitForTransactionReceipt({ hash: current.txHash, timeout, pollingInterval: Math.min(1000, Math.max(50, timeout / 4)) });
      } catch (error) {
        if (!(error instanceof WaitForTransactionReceiptTimeoutError) || Date.now() >= deadline) throw error;
      }
      const fees = await this.client.estimateFeesPerGas().catch(() => null);
      const bump = (fee: bigint, estimate: bigint | undefined) => {
        const raised = (fee * (100n + FEE_BUMP_PERCENT) + 99n) / 100n;
        return estimate && estimate > raised ? estimate : raised;
      };
      const next = await this.sign({
        data: current.data,
        nonce: current.nonce,
        gas: current.gas,
        maxFeePerGas: bump(current.maxFeePerGas, fees?.maxFeePerGas),
        maxPriorityFeePerGas: bump(current.maxPriorityFeePerGas, fees?.maxPriorityFeePerGas),
      });
      await this.options.db.settlementBatch.update({ where: { id: batchId }, data: { rawTx: next.rawTx, txHash: next.txHash } });
      this.log(`batch ${batchId}: ${current.txHash} not mined after ${Math.round(bumpAfterMs / 1000)} s; re-sent as ${next.txHash} with max fee ${next.maxFeePerGas}`);
      current = next;
      await this.client.sendRawTransaction({ serializedTransaction: next.rawTx }).catch((error: unknown) => {
        // Mined in the meantime (nonce too low), or the node kept the old one: the wait finds out.
        this.log(`replacement ${next.txHash} not accepted: ${String(error).split("\n")[0]}`);
      });
    }
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

  /** The transaction that settled (payer, nonce), from its ReceiptSettled event: newest blocks first, in bounded ranges. */
  async findSettlement(payer: Address, nonce: bigint): Promise<Hex | null> {
    const range = BigInt(this.options.logRange ?? LOG_RANGE);
    const first = this.options.fromBlock ?? 0n;
    for (let to = await this.client.getBlockNumber(); to >= first; to -= range) {
      const from = to - range + 1n > first ? to - range + 1n : first;
      const logs = await this.client.getContractEvents({
        address: this.options.settlement,
        abi: kipSettlementAbi,
        eventName: "ReceiptSettled",
        args: { payer: getAddress(payer), nonce },
        fromBlock: from,
        toBlock: to,
      });
      if (logs.length) return logs[0].transactionHash;
    }
    return null;
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
      await sleep(intervalMs, signal);
    }
  }
}
