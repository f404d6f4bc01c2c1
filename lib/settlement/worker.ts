// The settlement worker: settles each account's newest voucher with the records of its queries
// (KipSettlement v3, docs/settlement-format.md), and never loses or double-sends one, whatever moment it
// crashes at. An account is a payer with this operator: one voucher sequence over all its sessions.
//
//   1. for each account with answered queries, the chain's settled seq is read, and the newest voucher
//      under which every earlier query has finished is chosen, with the records of the answered queries
//      up to it; these rows are claimed into a batch recorded as "sending" (one DB transaction);
//   2. the transaction is built and signed here, and its raw bytes and hash are stored with the batch;
//   3. only then is it broadcast; its outcome decides each account's rows: an item with no
//      SessionRejected settled (rows settled, with the transaction hash, and the voucher's session
//      remembers the seq), one with it failed with the contract's reason.
// On start, `reconcile` looks at every batch still "sending": a mined transaction is applied; a stored one
// is re-broadcast (same nonce, same bytes: it can only be mined once); anything else is checked account by
// account against the chain's settled seq (`accountOf`), and what the chain has not settled goes back to
// pending. Only this operator can move that seq, and an account is never in two batches at once.
//
// No input can stop settlement: a row that cannot be encoded is quarantined with its reason, and a batch
// the contract would revert is bisected (`isolateFailures`) so every other account settles in the same
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
  checkVoucher,
  decodeSettle,
  encodeSettle,
  isSignedByKey,
  packRecords,
  SESSION_WALLET_GAS,
  sessionDigest,
  settlementOutcome,
  type QueryRecord,
  type SettleItem,
  type Voucher,
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
  /** Most accounts per settlement transaction (default 50). */
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

/** One account's part of a settlement: its newest finished voucher and the answered queries up to it. */
interface AccountWork {
  /** The session whose key signed the voucher. */
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

/** Rejections after which the voucher's session can never settle: it takes no more questions. */
const SESSION_FATAL = new Set(["SessionInvalid", "VoucherInvalid", "BadSignature", "Revoked", "BadSessionSignature"]);

/**
 * Whether settling `item` makes the contract ask the payer's wallet (ERC-1271) to approve the session:
 * a session not signed by the payer's own key, sent with its signature (not yet approved on chain).
 */
export function needsWalletApproval(item: SettleItem): boolean {
  return item.sessionSignature.kind === "wallet" && item.sessionSignature.signature !== "0x";
}

const shortReason = (error: unknown) => (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error)).split("\n")[0].slice(0, 200);

/** A row's voucher (throws when the row is malformed or past what the contract accepts). */
export function voucherOf(row: Pick<ReceiptRow, "sessionHash" | "seq" | "issuedAt" | "cumulativeMax" | "charges" | "signature">): Voucher {
  if (!/^\d{1,13}$/.test(row.seq) || !/^\d{1,29}$/.test(row.cumulativeMax)) throw new Error("its seq or cumulative maximum is not a number the contract takes");
  if (!/^0x[0-9a-fA-F]{130}$/.test(row.signature)) throw new Error("its signature is not 65 bytes");
  const voucher: Voucher = { session: row.sessionHash as Hex, seq: BigInt(row.seq), issuedAt: BigInt(row.issuedAt), cumulativeMax: BigInt(row.cumulativeMax), charges: row.charges as Hex };
  checkVoucher(voucher);
  return voucher;
}

/** A row's query record, from what the answer fixed (throws when the row is malformed). */
export function recordOf(row: Pick<ReceiptRow, "amountsJson" | "inputTokens" | "outputTokens" | "recordHash">): QueryRecord {
  const pairs = JSON.parse(row.amountsJson ?? "null") as unknown;
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error("its charges are not fixed");
  const charges = pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === "string" && /^\d{1,78}$/.test(v))) throw new Error("a charge is not [slot, amount]");
    return { slot: BigInt(pair[0] as string), amount: BigInt(pair[1] as string) };
  });
  if (!row.recordHash || !/^0x[0-9a-fA-F]{64}$/.test(row.recordHash)) throw new Error("its record hash is missing");
  const record: QueryRecord = { app: charges[0].slot, charges, tokensIn: row.inputTokens ?? 0, tokensOut: row.outputTokens ?? 0, recordHash: row.recordHash as Hex };
  // Packed on its own: throws on any width the contract's record format cannot hold.
  packRecords([...new Set(charges.map((c) => c.slot))], [record]);
  return record;
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
    // No input can stop settlement: an account the contract would revert the batch for is taken out with
    // its reason (the contract skips, rather than reverts for, anything about one item, so this is a
    // safety net); everything else settles in this round.
    const settleable = await isolateFailures(work, (set) => this.simulate(encodeSettle(set.map((w) => w.item))), async (w, error) =>
      this.quarantine(w.rows, `the contract refuses it (${shortReason(error)})`),
    );
    if (settleable.length === 0) return null;
    // An item whose payer's wallet must approve its session (not signed by the payer's own key, not yet
    // approved on chain) goes in a transaction of its own: the wallet decides what it spends, and may behave one way
    // when estimated and another when mined, so it can only ever sink its own transaction.
    const approvals: AccountWork[] = [];
    const batch: AccountWork[] = [];
    for (const w of settleable) (needsWalletApproval(w.item) ? approvals : batch).push(w);
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
  private async send(work: AccountWork[], extraGas: bigint): Promise<RoundResult> {
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

  /** The seq of the newest voucher the chain settled for `payer`'s account with this operator. */
  private async settledSeq(payer: Address): Promise<bigint> {
    const account = await this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "accountOf", args: [payer, this.operator] });
    return BigInt(account.seq);
  }

  /**
   * The accounts to settle now, oldest answered query first: for each, the newest voucher under which
   * every earlier query has finished (an answer still being written could never be settled after a later
   * voucher), and the answered queries up to it, within `batchSize` records in all.
   */
  private async collectWork(): Promise<AccountWork[]> {
    const { db } = this.options;
    const where = { ...this.scope, operator: this.operator };
    const oldest = await db.receipt.findMany({
      where: { ...where, status: "pending" },
      orderBy: { createdAt: "asc" },
      distinct: ["payer"],
      select: { payer: true },
      take: this.options.maxSessions ?? 50,
    });
    const settled = await Promise.all(oldest.map(({ payer }) => this.settledSeq(payer as Address)));
    const work: AccountWork[] = [];
    let budget = this.options.batchSize;
    for (const [i, { payer }] of oldest.entries()) {
      if (budget <= 0) break;
      const chainSeq = settled[i];
      const rows = await db.receipt.findMany({ where: { ...where, payer, status: { notIn: ["settled"] } } });
      const numbered: { row: ReceiptRow; seq: bigint }[] = [];
      for (const row of rows) {
        if (!/^\d{1,13}$/.test(row.seq)) {
          if (row.status === "pending") await this.quarantine([row], "its voucher number is not one the contract takes");
          continue;
        }
        const seq = BigInt(row.seq);
        // At or below what the chain settled, yet pending: the database lost track of the settlement that
        // paid it (a restore from an older backup). Every pending query up to a settled voucher travels in
        // its settlement, so it was paid; it is never sent again (the contract would refuse it as stale).
        if (seq <= chainSeq) {
          if (row.status === "pending") {
            await db.receipt.updateMany({ where: { id: row.id, status: "pending" }, data: { status: "settled", failureReason: null } });
            this.log(`receipt ${row.id} was settled on chain before this database recorded it`);
          }
          continue;
        }
        numbered.push({ row, seq });
      }
      numbered.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
      const chosen: ReceiptRow[] = [];
      let voucherRow: ReceiptRow | null = null;
      for (const { row } of numbered) {
        if (row.status === "answering" || row.status === "sending") break;
        let valid = true;
        try {
          voucherOf(row);
          if (row.status === "pending") recordOf(row);
        } catch (error) {
          valid = false;
          if (row.status === "pending") await this.quarantine([row], `it cannot be encoded for the contract (${shortReason(error)})`);
        }
        if (!valid) continue;
        if (row.status === "pending") {
          if (chosen.length >= budget) break;
          chosen.push(row);
        }
        // A voided or failed query's voucher still covers the ones before it.
        voucherRow = row;
      }
      if (!voucherRow || chosen.length === 0) continue;
      const session = await db.paymentSession.findUnique({ where: { hash: voucherRow.sessionHash } });
      let item: SettleItem;
      try {
        if (!session) throw new Error("its voucher's session is not known here");
        const asSession = {
          payer: session.payer as Address,
          key: session.key as Address,
          operator: session.operator as Address,
          spendCap: BigInt(session.spendCap),
          expiry: BigInt(session.expiry),
          nonce: BigInt(session.nonce),
        };
        const keySigned = await isSignedByKey(sessionDigest(this.scope, asSession), session.signature as Hex, asSession.payer);
        item = {
          session: asSession,
          // A wallet's approval is recorded on chain with its session's first settlement: not sent again.
          sessionSignature: keySigned ? { kind: "key", signature: session.signature as Hex } : { kind: "wallet", signature: session.settledSeq === "0" ? (session.signature as Hex) : "0x" },
          voucher: voucherOf(voucherRow),
          voucherSignature: voucherRow.signature as Hex,
          records: chosen.map(recordOf),
        };
        // Throws on anything the contract would refuse as malformed.
        encodeSettle([item]);
      } catch (error) {
        await this.quarantine(chosen, `it cannot be encoded for the contract (${shortReason(error)})`);
        if (session) await this.refuseSession(session.hash, `its session cannot be encoded (${shortReason(error)})`);
        continue;
      }
      work.push({ session: session!, item, rows: chosen });
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

  /** The input of a settlement transaction, from its signed bytes or from the chain. */
  private async inputOf(txHash: Hex, rawTx: Hex | null): Promise<Hex> {
    return (rawTx ? parseTransaction(rawTx).data : (await this.client.getTransaction({ hash: txHash })).input) ?? "0x";
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
    const outcomes = settlementOutcome(await this.inputOf(txReceipt.transactionHash, rawTx), this.operator, this.options.settlement, txReceipt.logs);
    let settled = 0;
    let failed = 0;
    const handled = new Set<string>();
    for (const outcome of outcomes) {
      // A batch holds one item per account: its rows are the batch's rows of that payer.
      const accountRows = rows.filter((r) => isAddressEqual(r.payer as Address, outcome.session.payer));
      accountRows.forEach((r) => handled.add(r.id));
      const ids = accountRows.map((r) => r.id);
      if (outcome.rejected === null) {
        await db.paymentSession.updateMany({ where: { hash: outcome.voucher.session }, data: { settledSeq: outcome.voucher.seq.toString() } });
        await db.receipt.updateMany({ where: { id: { in: ids } }, data: { status: "settled", txHash: txReceipt.transactionHash, failureReason: null } });
        settled += ids.length;
      } else {
        await db.receipt.updateMany({ where: { id: { in: ids } }, data: { status: "failed", failureReason: `Rejected by the contract: ${outcome.rejected}`, txHash: txReceipt.transactionHash } });
        failed += ids.length;
        // A session the contract will never take is closed here too: otherwise its failed rows would
        // count against neither its cap nor the balance, and it could be answered on for free.
        if (SESSION_FATAL.has(outcome.rejected)) await this.refuseSession(outcome.voucher.session, `the contract rejected it (${outcome.rejected})`);
      }
    }
    const left = rows.filter((r) => !handled.has(r.id));
    if (left.length) await db.receipt.updateMany({ where: { id: { in: left.map((r) => r.id) } }, data: { status: "pending", batchId: null } });
    await db.settlementBatch.update({ where: { id: batchId }, data: { status: "confirmed", txHash: txReceipt.transactionHash } });
    return { settled, failed };
  }

  /**
   * Decides each account of a batch whose transaction is not on chain, from the chain's own state: when an
   * account's settled seq has reached the batch's voucher, the batch did settle it (only this operator
   * moves that seq, and the account was in no other batch meanwhile), under a transaction found from the
   * BatchSettled events; otherwise its rows go back to pending.
   */
  private async resolveFromChain(batchId: string, rawTx: Hex | null): Promise<void> {
    const { db } = this.options;
    const rows = await db.receipt.findMany({ where: { batchId, status: "sending" } });
    const items = rawTx ? decodeSettle(parseTransaction(rawTx).data ?? "0x", this.operator) : [];
    for (const item of items) {
      const accountRows = rows.filter((r) => isAddressEqual(r.payer as Address, item.session.payer));
      if (accountRows.length === 0) continue;
      if ((await this.settledSeq(item.session.payer)) < item.voucher.seq) continue;
      const txHash = await this.findSettlement(item.session.payer, item.voucher.seq);
      await db.paymentSession.updateMany({ where: { hash: item.voucher.session }, data: { settledSeq: item.voucher.seq.toString() } });
      await db.receipt.updateMany({ where: { id: { in: accountRows.map((r) => r.id) } }, data: { status: "settled", txHash, failureReason: null } });
    }
    await db.$transaction([
      db.receipt.updateMany({ where: { batchId, status: "sending" }, data: { status: "pending", batchId: null } }),
      db.settlementBatch.update({ where: { id: batchId }, data: { status: "abandoned", error: "not on chain; accounts checked against the chain's settled seq" } }),
    ]);
  }

  /**
   * The transaction of this operator that settled `payer`'s account up to `seq`: newest blocks first, in
   * bounded ranges, each BatchSettled transaction's input read for an item of that account and seq.
   */
  async findSettlement(payer: Address, seq: bigint): Promise<Hex | null> {
    const range = BigInt(this.options.logRange ?? LOG_RANGE);
    const first = this.options.fromBlock ?? 0n;
    for (let to = await this.client.getBlockNumber(); to >= first; to -= range) {
      const from = to - range + 1n > first ? to - range + 1n : first;
      const logs = await this.client.getContractEvents({
        address: this.options.settlement,
        abi: kipSettlementAbi,
        eventName: "BatchSettled",
        args: { operator: this.operator },
        fromBlock: from,
        toBlock: to,
      });
      for (const log of [...logs].reverse()) {
        const input = await this.inputOf(log.transactionHash, null);
        let items;
        try {
          items = decodeSettle(input, this.operator);
        } catch {
          continue;
        }
        if (items.some((item) => isAddressEqual(item.session.payer, payer) && item.voucher.seq === seq)) return log.transactionHash;
      }
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
