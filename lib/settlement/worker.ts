// The settlement worker: settles each spending session's newest voucher with the records of its queries
// (KipSettlement v2, docs/settlement-format.md), and never loses or double-sends one, whatever moment it
// crashes at.
//
//   1. for each session with answered queries, the newest voucher that every earlier query has finished
//      under is chosen, with the records of the answered queries up to it; these rows are claimed into a
//      batch recorded as "sending" (one DB transaction);
//   2. the transaction is built and signed here, and its raw bytes and hash are stored with the batch;
//   3. only then is it broadcast; its events decide each session: SessionSettled → its rows settled (with
//      the transaction hash) and the session's settled state updated from the calldata that was sent,
//      SessionRejected → its rows failed with the contract's reason.
// On start, `reconcile` looks at every batch still "sending": a mined transaction is applied; a stored one
// is re-broadcast (same nonce, same bytes: it can only be mined once); anything else is checked session
// by session against the chain's state commitment (`sessionState`), and what the chain has not settled
// goes back to pending. Only this operator can settle its sessions, so nobody else can move that state.
//
// No input can stop settlement: a row that cannot be encoded is quarantined with its reason, and a batch
// the contract would revert is bisected (`isolateFailures`) so every other session settles in the same
// round. At start the worker checks that its account is the deployment's operator and can pay gas. A
// broadcast transaction not mined within `bumpAfterMs` is re-signed under the same nonce with higher fees
// (each replacement recorded first). Chain scans go in ranges of `logRange` blocks, newest first.
import {
  createPublicClient,
  decodeEventLog,
  http,
  isAddressEqual,
  keccak256,
  parseTransaction,
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
import {
  decodeSettle,
  encodeSettle,
  isSignedByKey,
  rejectReasonName,
  SESSION_WALLET_GAS,
  sessionDigest,
  settledAfter,
  stateAfter,
  type DecodedItem,
  type QueryRecord,
  type SettleItem,
  type SettlementContext,
} from "@/lib/protocol";

export interface SettlementWorkerOptions {
  db: Db;
  rpcUrl: string;
  chainId: number;
  settlement: Address;
  /** The operator's key: sessions name its address, and it pays the gas. */
  account: PrivateKeyAccount;
  /** The deployment's operator (checked against `account` at start); default: the account's address. */
  operator?: Address;
  /** Most query records per settlement transaction. */
  batchSize: number;
  /** Most sessions per settlement transaction (default 50). */
  maxSessions?: number;
  /** First block to search for settlement events (the deployment's start block). */
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
  /** Query records settled and failed. */
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
type SessionRow = Awaited<ReturnType<Db["paymentSession"]["findMany"]>>[number];

/** One session's part of a settlement: its newest finished voucher and the answered queries up to it. */
interface SessionWork {
  session: SessionRow;
  item: SettleItem;
  /** The rows whose records travel in `item` (status pending, then sending). */
  rows: ReceiptRow[];
}

/** Gas the contract reserves for one wallet's `isValidSignature` (KipSettlement._WALLET_CHECK_GAS_NEEDED). */
export const WALLET_CHECK_GAS = (SESSION_WALLET_GAS * 64n) / 63n + 5000n;

/**
 * Gas added to a transaction that settles one session a wallet must approve: the wallet's whole budget
 * (it may spend little when estimated and all of it when mined), and the copy of whatever it answers
 * into the contract's memory, which the contract pays for: with 100,000 gas a wallet can answer about
 * 200 kB, and copying that costs about 120,000.
 */
export const WALLET_APPROVAL_GAS = WALLET_CHECK_GAS + 150_000n;

/** Rejections after which a session can never settle: it takes no more questions. */
const SESSION_FATAL = new Set(["NotOperator", "SessionInvalid", "VoucherInvalid", "Revoked", "BadSignature"]);

/**
 * Whether settling `item` makes the contract ask the payer's wallet (ERC-1271) to approve the session:
 * its first settlement, when the session's signature is not the payer's own key signature.
 */
export async function needsWalletApproval(item: SettleItem, ctx: SettlementContext): Promise<boolean> {
  return item.prevSeq === 0n && !(await isSignedByKey(sessionDigest(ctx, item.session), item.sessionSignature, item.session.payer));
}

const shortReason = (error: unknown) => (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error)).split("\n")[0].slice(0, 200);

const strings = (json: string): string[] => {
  const value = JSON.parse(json) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && /^\d{1,78}$/.test(v))) throw new Error("not a list of decimal strings");
  return value as string[];
};

/** A row's query record, from what the answer fixed (throws when the row is malformed). */
export function recordOf(row: Pick<ReceiptRow, "amountsJson" | "inputTokens" | "outputTokens" | "recordHash">): QueryRecord {
  const pairs = JSON.parse(row.amountsJson ?? "null") as unknown;
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error("its charges are not fixed");
  const charges = pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === "string" && /^\d{1,78}$/.test(v))) throw new Error("a charge is not [slot, amount]");
    return { slot: BigInt(pair[0] as string), amount: BigInt(pair[1] as string) };
  });
  if (!row.recordHash || !/^0x[0-9a-fA-F]{64}$/.test(row.recordHash)) throw new Error("its record hash is missing");
  return { app: charges[0].slot, charges, tokensIn: row.inputTokens ?? 0, tokensOut: row.outputTokens ?? 0, recordHash: row.recordHash as Hex };
}

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

/** Each replacement pays at least this much more (nodes require ≥ 10 % to replace a pending transaction). */
const FEE_BUMP_PERCENT = 25n;

/** Why this worker cannot settle, with what to do about it (thrown by `checkAccount`). */
export class SettlerSetupError extends Error {
  override name = "SettlerSetupError";
}

export class SettlementWorker {
  readonly client: PublicClient;
  private readonly log: (line: string) => void;
  /** The last block whose SessionRevoked events were applied (null: none yet, start at fromBlock). */
  private revocationsThrough: bigint | null = null;

  constructor(private readonly options: SettlementWorkerOptions) {
    this.client = options.client ?? (createPublicClient({ transport: http(options.rpcUrl, { timeout: 15_000, retryCount: 1 }) }) as PublicClient);
    this.log = options.log ?? ((line) => console.log(line));
  }

  private get scope() {
    return { chainId: this.options.chainId, settlement: this.options.settlement };
  }

  private get operator(): Address {
    return this.options.account.address;
  }

  /** Checks that the worker's account is the deployment's operator and holds gas money; throws a SettlerSetupError saying what to do otherwise. */
  async checkAccount(): Promise<void> {
    const { account, settlement } = this.options;
    const code = await this.client.getCode({ address: settlement });
    if (!code || code === "0x") {
      throw new SettlerSetupError(`No contract at ${settlement} on chain ${this.options.chainId}: check RPC_URL, CHAIN_ID and the deployment file.`);
    }
    if (this.options.operator && !isAddressEqual(this.options.operator, account.address)) {
      throw new SettlerSetupError(
        `${account.address} (SETTLER_PRIVATE_KEY) is not this deployment's operator ${this.options.operator}: spending sessions name the operator, and only it can settle them. ` +
          `Set SETTLER_PRIVATE_KEY to the operator's key.`,
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
      else await this.resolveFromChain(batch.id, (batch.rawTx as Hex | null) ?? null);
    }
  }

  /**
   * Applies revocations made on chain (KipSettlement.revokeSession, from any wallet app) to the sessions
   * here, so admission refuses their vouchers as it does after a revocation from the chat page. Scans new
   * blocks only, in bounded ranges.
   */
  async syncRevocations(): Promise<number> {
    const head = await this.client.getBlockNumber();
    const range = BigInt(this.options.logRange ?? LOG_RANGE);
    let from = this.revocationsThrough === null ? (this.options.fromBlock ?? 0n) : this.revocationsThrough + 1n;
    let applied = 0;
    for (; from <= head; from += range) {
      const to = from + range - 1n < head ? from + range - 1n : head;
      const logs = await this.client.getContractEvents({ address: this.options.settlement, abi: kipSettlementAbi, eventName: "SessionRevoked", fromBlock: from, toBlock: to });
      for (const log of logs) {
        const { count } = await this.options.db.paymentSession.updateMany({
          where: { hash: log.args.session!, revokedAt: null },
          data: { revokedAt: Math.floor(Date.now() / 1000) },
        });
        applied += count;
      }
      this.revocationsThrough = to;
    }
    return applied;
  }

  /** One round: apply revocations, void stale answers, then send one settlement of the sessions with answered queries (null when there is none). */
  async settleOnce(): Promise<RoundResult | null> {
    const { db } = this.options;
    await this.syncRevocations().catch((error: unknown) => this.log(`revocations not read: ${shortReason(error)}`));
    const stale = new Date(Date.now() - (this.options.answerTimeoutMs ?? 10 * 60_000));
    await db.receipt.updateMany({
      where: { ...this.scope, status: "answering", updatedAt: { lt: stale } },
      data: { status: "void", failureReason: "the answer never finished" },
    });

    const work = await this.collectWork();
    if (work.length === 0) return null;
    // No input can stop settlement: a session the contract would revert the batch for is taken out with
    // its reason (the contract skips, rather than reverts for, anything about one session, so this is a
    // safety net); everything else settles in this round.
    const settleable = await isolateFailures(work, (set) => this.simulate(encodeSettle(set.map((w) => w.item))), async (w, error) =>
      this.quarantine(w.rows, `the contract refuses it (${shortReason(error)})`),
    );
    if (settleable.length === 0) return null;
    // A session whose payer's wallet must approve it (its first settlement, not signed by the payer's own
    // key) goes in a transaction of its own: the wallet decides what it spends, and may behave one way
    // when estimated and another when mined, so it can only ever sink its own transaction.
    const approvals: SessionWork[] = [];
    const batch: SessionWork[] = [];
    for (const w of settleable) ((await needsWalletApproval(w.item, this.scope)) ? approvals : batch).push(w);
    const results: RoundResult[] = [];
    if (batch.length) results.push(await this.send(batch, 0n));
    for (const w of approvals) results.push(await this.send([w], WALLET_APPROVAL_GAS));
    return {
      batchId: results[0].batchId,
      txHash: results[0].txHash,
      settled: results.reduce((n, r) => n + r.settled, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
    };
  }

  /** Claims `work`'s rows, signs and records one settle transaction (its gas limit raised by `extraGas`), sends it and applies what the chain says. */
  private async send(work: SessionWork[], extraGas: bigint): Promise<RoundResult> {
    const { db } = this.options;
    const data = encodeSettle(work.map((w) => w.item));

    // 1. Claim the rows into a batch recorded as "sending".
    const ids = work.flatMap((w) => w.rows.map((r) => r.id));
    const batch = await db.$transaction(async (tx) => {
      const created = await tx.settlementBatch.create({ data: { ...this.scope, settler: this.operator, status: "sending" } });
      const { count } = await tx.receipt.updateMany({ where: { id: { in: ids }, status: "pending" }, data: { status: "sending", batchId: created.id } });
      if (count !== ids.length) throw new Error("another worker claimed some of these receipts; retrying next round");
      return created;
    });

    // 2. Build and sign the transaction, and record it before it leaves this process.
    let signed: SignedSettlement;
    try {
      const [nonce, gas, fees] = await Promise.all([
        this.client.getTransactionCount({ address: this.operator, blockTag: "pending" }),
        this.client.estimateGas({ account: this.operator, to: this.options.settlement, data }),
        this.client.estimateFeesPerGas(),
      ]);
      signed = await this.sign({ data, nonce, gas: (gas * 12n) / 10n + extraGas, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas });
      await db.settlementBatch.update({ where: { id: batch.id }, data: { rawTx: signed.rawTx, txHash: signed.txHash, txNonce: nonce } });
    } catch (error) {
      // Nothing left this process: the rows go back to pending for the next round.
      await this.abandon(batch.id, `could not prepare the transaction: ${String(error).split("\n")[0]}`);
      throw error;
    }
    await this.options.hooks?.afterRecord?.(batch.id);

    // 3. Broadcast, then apply what the chain says.
    await this.client.sendRawTransaction({ serializedTransaction: signed.rawTx });
    await this.options.hooks?.afterBroadcast?.(batch.id, signed.txHash);
    const receipt = await this.waitMined(batch.id, signed);
    const outcome = await this.applyTransaction(batch.id, receipt);
    if (receipt.status !== "success" && extraGas > 0n) {
      // A wallet's approval that sank its own transaction with all the gas it may have: it is not tried
      // again, and its session takes no more questions.
      const [w] = work;
      await this.quarantine(w.rows, "its payer's wallet did not approve the session within the gas the contract gives it");
      await this.refuseSession(w.item.voucher.session, "the payer's wallet did not approve it");
      return { batchId: batch.id, txHash: receipt.transactionHash, settled: 0, failed: w.rows.length };
    }
    this.log(`batch ${batch.id}: ${outcome.settled} settled, ${outcome.failed} failed (${receipt.transactionHash})`);
    return { batchId: batch.id, txHash: receipt.transactionHash, ...outcome };
  }

  /** No more questions on a session the contract refused for good (marked as revoked, which admission refuses). */
  private async refuseSession(sessionHash: string, why: string): Promise<void> {
    const { count } = await this.options.db.paymentSession.updateMany({ where: { hash: sessionHash, revokedAt: null }, data: { revokedAt: Math.floor(Date.now() / 1000) } });
    if (count) this.log(`session ${sessionHash} takes no more questions: ${why}`);
  }

  /**
   * The sessions to settle now, oldest answered query first: for each, the newest voucher under which
   * every earlier query has finished (an answer still being written could not be settled later under an
   * older voucher), and the answered queries up to it, within `batchSize` records in all.
   */
  private async collectWork(): Promise<SessionWork[]> {
    const { db } = this.options;
    const maxSessions = this.options.maxSessions ?? 50;
    const oldest = await db.receipt.findMany({
      where: { ...this.scope, status: "pending" },
      orderBy: { createdAt: "asc" },
      distinct: ["sessionHash"],
      select: { sessionHash: true },
      take: maxSessions,
    });
    const work: SessionWork[] = [];
    let budget = this.options.batchSize;
    for (const { sessionHash } of oldest) {
      if (budget <= 0) break;
      const session = await db.paymentSession.findUnique({ where: { hash: sessionHash } });
      if (!session) continue;
      let settledSeq: bigint;
      let prevSettled: bigint[];
      try {
        settledSeq = BigInt(session.settledSeq);
        prevSettled = strings(session.settledJson).map(BigInt);
      } catch (error) {
        await this.quarantineSession(sessionHash, `its settled state cannot be read (${shortReason(error)})`);
        continue;
      }
      const rows = (await db.receipt.findMany({ where: { sessionHash, status: { notIn: ["settled"] } } }))
        .filter((r) => /^\d{1,20}$/.test(r.seq) && BigInt(r.seq) > settledSeq)
        .sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
      const chosen: ReceiptRow[] = [];
      let voucherRow: ReceiptRow | null = null;
      for (const row of rows) {
        if (row.status === "answering" || row.status === "sending") break;
        if (row.status === "pending") {
          if (chosen.length >= budget) break;
          try {
            recordOf(row);
          } catch (error) {
            await this.quarantine([row], `its record cannot be encoded (${shortReason(error)})`);
            continue;
          }
          chosen.push(row);
        }
        voucherRow = row;
      }
      if (!voucherRow || chosen.length === 0) continue;
      let item: SettleItem;
      try {
        item = {
          session: {
            payer: session.payer as Address,
            key: session.key as Address,
            operator: session.operator as Address,
            spendCap: BigInt(session.spendCap),
            expiry: BigInt(session.expiry),
            nonce: BigInt(session.nonce),
          },
          sessionSignature: settledSeq === 0n ? (session.signature as Hex) : "0x",
          voucher: {
            session: session.hash as Hex,
            seq: BigInt(voucherRow.seq),
            issuedAt: BigInt(voucherRow.issuedAt),
            slots: strings(voucherRow.slotsJson).map(BigInt),
            maxAmounts: strings(voucherRow.maxAmountsJson).map(BigInt),
          },
          voucherSignature: voucherRow.signature as Hex,
          prevSeq: settledSeq,
          prevSettled,
          records: chosen.map(recordOf),
        };
        // Throws on anything the contract would refuse as malformed.
        encodeSettle([item]);
      } catch (error) {
        await this.quarantine(chosen, `it cannot be encoded for the contract (${shortReason(error)})`);
        continue;
      }
      work.push({ session, item, rows: chosen });
      budget -= chosen.length;
    }
    return work;
  }

  /** Runs `settle(data)` as the operator without sending it; throws what the contract would revert with. */
  private async simulate(data: Hex): Promise<void> {
    await this.client.call({ account: this.operator, to: this.options.settlement, data });
  }

  /** Takes rows out of settlement for good, with the reason the chat shows on their messages. */
  private async quarantine(rows: readonly ReceiptRow[], why: string): Promise<void> {
    const reason = `Quarantined: ${why}`.slice(0, 300);
    await this.options.db.receipt.updateMany({ where: { id: { in: rows.map((r) => r.id) }, status: "pending" }, data: { status: "failed", failureReason: reason } });
    this.log(`receipts ${rows.map((r) => r.id).join(", ")} ${reason}`);
  }

  private async quarantineSession(sessionHash: string, why: string): Promise<void> {
    const reason = `Quarantined: ${why}`.slice(0, 300);
    await this.options.db.receipt.updateMany({ where: { sessionHash, status: "pending" }, data: { status: "failed", failureReason: reason } });
    this.log(`session ${sessionHash} ${reason}`);
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

  /** The items a settlement transaction carried, from its signed bytes or from the chain. */
  private async itemsOf(txHash: Hex, rawTx: Hex | null): Promise<DecodedItem[]> {
    const input = rawTx ? parseTransaction(rawTx).data : (await this.client.getTransaction({ hash: txHash })).input;
    return input ? decodeSettle(input) : [];
  }

  /** Applies a mined settlement transaction to its rows and sessions. */
  async applyTransaction(batchId: string, txReceipt: TransactionReceipt): Promise<{ settled: number; failed: number }> {
    const { db } = this.options;
    const batch = await db.settlementBatch.findUniqueOrThrow({ where: { id: batchId } });
    const rows = await db.receipt.findMany({ where: { batchId, status: "sending" } });
    if (txReceipt.status !== "success") {
      await this.abandon(batchId, `transaction ${txReceipt.transactionHash} reverted`, "reverted");
      return { settled: 0, failed: 0 };
    }
    const rawTx = batch.txHash?.toLowerCase() === txReceipt.transactionHash.toLowerCase() ? ((batch.rawTx as Hex | null) ?? null) : null;
    const items = new Map((await this.itemsOf(txReceipt.transactionHash, rawTx)).map((item) => [item.voucher.session.toLowerCase(), item]));
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
      if (event.eventName !== "SessionSettled" && event.eventName !== "SessionRejected") continue;
      const session = event.args.session.toLowerCase();
      const sessionRows = rows.filter((r) => r.sessionHash.toLowerCase() === session);
      sessionRows.forEach((r) => handled.add(r.id));
      if (event.eventName === "SessionSettled") {
        const item = items.get(session);
        if (item) await this.recordSettled(item);
        await db.receipt.updateMany({ where: { id: { in: sessionRows.map((r) => r.id) } }, data: { status: "settled", txHash: txReceipt.transactionHash, failureReason: null } });
        settled += sessionRows.length;
      } else {
        const reason = rejectReasonName(event.args.reason);
        await db.receipt.updateMany({
          where: { id: { in: sessionRows.map((r) => r.id) } },
          data: { status: "failed", failureReason: `Rejected by the contract: ${reason}`, txHash: txReceipt.transactionHash },
        });
        failed += sessionRows.length;
        // A session the contract will never take is closed here too: otherwise its failed rows would
        // count against neither its cap nor the balance, and it could be answered on for free.
        if (SESSION_FATAL.has(reason)) await this.refuseSession(event.args.session, `the contract rejected it (${reason})`);
      }
    }
    const left = rows.filter((r) => !handled.has(r.id));
    if (left.length) await db.receipt.updateMany({ where: { id: { in: left.map((r) => r.id) } }, data: { status: "pending", batchId: null } });
    await db.settlementBatch.update({ where: { id: batchId }, data: { status: "confirmed", txHash: txReceipt.transactionHash } });
    return { settled, failed };
  }

  /** The session's settled state after `item`: what the next settlement of it builds on. */
  private async recordSettled(item: DecodedItem): Promise<void> {
    if (!item.records) return;
    const settled = settledAfter({ voucher: item.voucher, prevSettled: item.prevSettled, records: item.records });
    await this.options.db.paymentSession.updateMany({
      where: { hash: item.voucher.session, settledSeq: item.prevSeq.toString() },
      data: { settledSeq: item.voucher.seq.toString(), settledJson: JSON.stringify(settled.map(String)) },
    });
  }

  /**
   * Decides each session of a batch whose transaction is not on chain, from the chain's own state: when a
   * session's commitment is the one this batch would have produced, the batch did settle it (under a
   * transaction found from its SessionSettled event); otherwise its rows go back to pending.
   */
  private async resolveFromChain(batchId: string, rawTx: Hex | null): Promise<void> {
    const { db } = this.options;
    const rows = await db.receipt.findMany({ where: { batchId, status: "sending" } });
    const items = rawTx ? decodeSettle(parseTransaction(rawTx).data ?? "0x") : [];
    for (const item of items) {
      if (!item.records) continue;
      const sessionRows = rows.filter((r) => r.sessionHash.toLowerCase() === item.voucher.session.toLowerCase());
      if (sessionRows.length === 0) continue;
      const after = stateAfter({ voucher: item.voucher, prevSettled: item.prevSettled, records: item.records });
      const onChain = await this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "sessionState", args: [item.voucher.session] });
      if (onChain.toLowerCase() !== after.toLowerCase()) continue;
      const txHash = await this.findSettlement(item.voucher.session, item.voucher.seq);
      await this.recordSettled(item);
      await db.receipt.updateMany({ where: { id: { in: sessionRows.map((r) => r.id) } }, data: { status: "settled", txHash, failureReason: null } });
    }
    await db.$transaction([
      db.receipt.updateMany({ where: { batchId, status: "sending" }, data: { status: "pending", batchId: null } }),
      db.settlementBatch.update({ where: { id: batchId }, data: { status: "abandoned", error: "not on chain; sessions checked against the chain's state" } }),
    ]);
  }

  /** The transaction that settled `session` up to `seq`, from its SessionSettled event: newest blocks first, in bounded ranges. */
  async findSettlement(session: Hex, seq: bigint): Promise<Hex | null> {
    const range = BigInt(this.options.logRange ?? LOG_RANGE);
    const first = this.options.fromBlock ?? 0n;
    for (let to = await this.client.getBlockNumber(); to >= first; to -= range) {
      const from = to - range + 1n > first ? to - range + 1n : first;
      const logs = await this.client.getContractEvents({
        address: this.options.settlement,
        abi: kipSettlementAbi,
        eventName: "SessionSettled",
        args: { session },
        fromBlock: from,
        toBlock: to,
      });
      const match = logs.find((l) => l.args.seq === seq);
      if (match) return match.transactionHash;
      if (from === first) break;
    }
    return null;
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
