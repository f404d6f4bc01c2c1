// The settlement worker: settles each account's newest voucher with the records of its answered queries
// (KipSettlement v3, docs/settlement-format.md), and never loses or double-sends one, whatever moment it
// crashes at. An account is a payer with this operator; its vouchers are numbered over all the payer's
// sessions, and settling its newest voucher with one record per answered query since the chain's settled
// seq settles them all.
//
//   1. for each account with answered queries (oldest first), the chain's settled seq is read
//      (`accountOf`), and the account's receipts above it are walked in seq order up to the first one still
//      being answered or sent: the answered ones become records, voided and failed ones are passed over
//      (a later voucher still covers them), and the last one walked is the voucher; these rows are claimed
//      into a batch recorded as "sending" (one DB transaction);
//   2. the transaction is built and signed here, and its raw bytes and hash are stored with the batch;
//   3. only then is it broadcast; the mined transaction decides each item (`settlementOutcome`): an item
//      without a `SessionRejected` settled (its rows settled with the transaction hash, its session's
//      `settledSeq` moved to the voucher's seq), a rejected one failed with the contract's reason.
// On start, `reconcile` looks at every batch still "sending": a mined transaction is applied; a stored one
// is re-broadcast (same nonce, same bytes: it can only be mined once); anything else is decided account by
// account from the chain: only this operator moves an account's seq, and an account never has two items in
// flight, so the item settled iff the account's seq reached its voucher's; what did not goes back to pending.
//
// No input can stop settlement: a row that cannot be encoded is quarantined with its reason (and a later
// voucher of its account still settles the others), and a batch the contract would revert is bisected
// (`isolateFailures`) so every other account settles in the same round. At start the worker checks that
// its account is the deployment's operator and can pay gas. A broadcast transaction not mined within
// `bumpAfterMs` is re-signed under the same nonce with higher fees (each replacement recorded first).
// Chain scans go in ranges of `logRange` blocks, newest first.
import {
  createPublicClient,
  getAddress,
  http,
  isAddress,
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
  checkSession,
  checkVoucher,
  decodeSettle,
  encodeSettle,
  hashSession,
  isSignedByKey,
  LIMITS,
  packRecords,
  SESSION_WALLET_GAS,
  sessionDigest,
  settlementOutcome,
  slotTable,
  type DecodedItem,
  type QueryRecord,
  type Session,
  type SettleItem,
  type SettlementContext,
  type SettlementItemOutcome,
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
  /** Most accounts (payers) per settlement round (default 50). */
  maxAccounts?: number;
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
  hooks?: {
    /** After the accounts' settled seqs were read and before their receipts are (tests race a second worker here). */
    afterChainRead?: () => Promise<void> | void;
    afterRecord?: (batchId: string) => Promise<void> | void;
    afterBroadcast?: (batchId: string, txHash: Hex) => Promise<void> | void;
  };
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

/** One account's part of a settlement: its newest voucher walked and the answered queries up to it. */
interface AccountWork {
  payer: Address;
  /** The session whose key signed the voucher. */
  session: SessionRow;
  item: SettleItem;
  /** The rows whose records travel in `item` (status pending, then sending). */
  rows: ReceiptRow[];
}

/** A stored session checked for this worker's deployment, and its id. */
interface CheckedSession {
  session: Session;
  sessionHash: Hex;
}

/** A receipt whose voucher can be settled: the voucher, its signature and its session. */
interface VoucherCandidate {
  row: ReceiptRow;
  sessionRow: SessionRow;
  session: Session;
  voucher: Voucher;
  signature: Hex;
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
 * Whether settling `item` makes the contract ask the payer's wallet (ERC-1271) to approve the session: a
 * wallet's signature that the contract has not recorded an approval of yet (it is sent as "0x" once it has).
 */
export function needsWalletApproval(item: Pick<SettleItem, "sessionSignature">): boolean {
  return item.sessionSignature.kind === "wallet" && item.sessionSignature.signature !== "0x";
}

const shortReason = (error: unknown) => (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error)).split("\n")[0].slice(0, 200);

const DECIMAL = /^\d{1,78}$/;
/** A seq as admission writes it: a positive decimal without leading zeros. */
const CANONICAL_SEQ = /^[1-9]\d{0,19}$/;
/** CANONICAL_SEQ as a PostgreSQL regular expression. */
const CANONICAL_SEQ_SQL = "^[1-9][0-9]{0,19}$";

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** A row's query record, from what the answer fixed (throws when the row is malformed or the contract could not take it). */
export function recordOf(row: Pick<ReceiptRow, "amountsJson" | "inputTokens" | "outputTokens" | "recordHash">): QueryRecord {
  const pairs = JSON.parse(row.amountsJson ?? "null") as unknown;
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error("its charges are not fixed");
  const charges = pairs.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === "string" && DECIMAL.test(v))) throw new Error("a charge is not [slot, amount]");
    return { slot: BigInt(pair[0] as string), amount: BigInt(pair[1] as string) };
  });
  if (!row.recordHash || !/^0x[0-9a-fA-F]{64}$/.test(row.recordHash)) throw new Error("its record hash is missing");
  const record: QueryRecord = { app: charges[0].slot, charges, tokensIn: row.inputTokens ?? 0, tokensOut: row.outputTokens ?? 0, recordHash: row.recordHash as Hex };
  // Throws on anything the contract would refuse as malformed (widths, counts).
  packRecords(slotTable([{ records: [record] }]), [record]);
  return record;
}

/** The slots a record names (its app and every charge). */
const slotsOf = (record: QueryRecord) => [record.app, ...record.charges.map((c) => c.slot)];

/**
 * The items whose batch `simulate` accepts, found by bisection: when a set fails, each half is tried on
 * its own, down to single items, which are handed to `reject`. One bad item among n costs about 2·log2(n)
 * simulations, and every other item still goes into the batch. The survivors are simulated together once
 * more: halves that pass alone could fail together (they cannot today, as the contract rejects rather than
 * reverts for anything that depends on other items, but the batch sent must be one that passed).
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
  /** Whether a session's stored signature is its payer's own key signature, by session and signature. */
  private readonly keySigned = new Map<string, boolean>();
  /** The chain's `revokedAt` of sessions revoked there (set once, never changed). */
  private readonly revokedOnChain = new Map<string, bigint>();

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

  /** This deployment's receipts of accounts with this operator. */
  private get receiptScope() {
    return { ...this.scope, operator: { equals: this.operator, mode: "insensitive" as const } };
  }

  private get ctx(): SettlementContext {
    return this.scope;
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
    const batches = await this.options.db.settlementBatch.findMany({ where: { ...this.scope, settler: this.operator, status: "sending" }, orderBy: { createdAt: "asc" } });
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
    const head = await this.client.getBlockNumber({ cacheTime: 0 });
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

  /** One round: apply revocations, void stale answers, then send one settlement of the accounts with answered queries (null when there is none). */
  async settleOnce(): Promise<RoundResult | null> {
    const { db } = this.options;
    await this.syncRevocations().catch((error: unknown) => this.log(`revocations not read: ${shortReason(error)}`));
    const stale = new Date(Date.now() - (this.options.answerTimeoutMs ?? 10 * 60_000));
    await db.receipt.updateMany({
      where: { ...this.receiptScope, status: "answering", updatedAt: { lt: stale } },
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
    // An account whose voucher's session a wallet must approve (a smart wallet's signature the contract
    // has not recorded an approval of) goes in a transaction of its own: the wallet decides what it spends,
    // and may behave one way when estimated and another when mined, so it can only ever sink its own
    // transaction.
    const approvals = settleable.filter((w) => needsWalletApproval(w.item));
    const batch = settleable.filter((w) => !needsWalletApproval(w.item));
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
      await this.refuseSession(w.session.hash, "the payer's wallet did not approve it");
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

  /** The account's settled seq on chain, per payer (read in parallel, one read per account). */
  private async settledSeqs(payers: readonly Address[]): Promise<Map<Address, bigint>> {
    const states = await Promise.all(
      payers.map((payer) => this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "accountOf", args: [payer, this.operator] })),
    );
    return new Map(payers.map((payer, i) => [payer, BigInt(states[i].seq)]));
  }

  /**
   * The accounts to settle now, oldest answered query first (up to `maxAccounts`): for each, the receipts
   * above the chain's settled seq are walked in seq order, stopping at the first still being answered or
   * sent (settling a later voucher first would leave that query's record stale for good); the answered ones
   * become records (within `batchSize` records and the batch's 256 slots in all), voided and failed ones are
   * passed over, and the last one walked whose voucher can be settled is the item's voucher.
   */
  private async collectWork(): Promise<AccountWork[]> {
    const { db } = this.options;
    const oldest = await db.receipt.findMany({
      where: { ...this.receiptScope, status: "pending" },
      orderBy: { createdAt: "asc" },
      distinct: ["payer"],
      select: { payer: true },
      take: this.options.maxAccounts ?? 50,
    });
    const payers: Address[] = [];
    for (const { payer } of oldest) {
      if (!isAddress(payer, { strict: false })) {
        await this.quarantineWhere({ ...this.receiptScope, payer, status: "pending" }, "its payer is not an address");
        continue;
      }
      const address = getAddress(payer);
      if (!payers.includes(address)) payers.push(address);
    }
    if (payers.length === 0) return [];
    const chainSeqs = await this.settledSeqs(payers);
    await this.options.hooks?.afterChainRead?.();
    // Every account's receipts and their sessions in two reads for the round, not two per account. The
    // later accounts' rows are read before the earlier ones are walked: a row another process changes
    // meanwhile fails the claim's count check, and the round is tried again.
    const { rowsOf, sessions } = await this.unsettledRows(payers);

    const work: AccountWork[] = [];
    const batchSlots = new Set<bigint>();
    let budget = this.options.batchSize;
    for (const payer of payers) {
      if (budget <= 0) break;
      const found = await this.accountWork(payer, chainSeqs.get(payer)!, budget, batchSlots, rowsOf(payer), sessions);
      if (!found) continue;
      work.push(found);
      budget -= found.rows.length;
      for (const record of found.item.records) for (const slot of slotsOf(record)) batchSlots.add(slot);
    }
    return work;
  }

  /**
   * The receipts not yet settled of `payers`' accounts (matched whatever the case of the stored payer, so a
   * twin stored in lower case is seen and quarantined), and the sessions they name.
   */
  private async unsettledRows(payers: readonly Address[]): Promise<{ rowsOf: (payer: Address) => ReceiptRow[]; sessions: Map<string, SessionRow> }> {
    const { db } = this.options;
    const all = await db.receipt.findMany({
      where: { ...this.receiptScope, OR: payers.map((payer) => ({ payer: { equals: payer, mode: "insensitive" as const } })), status: { not: "settled" } },
    });
    const byPayer = new Map<string, ReceiptRow[]>();
    for (const row of all) {
      const key = row.payer.toLowerCase();
      const rows = byPayer.get(key);
      if (rows) rows.push(row);
      else byPayer.set(key, [row]);
    }
    // Each account has a few sessions however many receipts it has: the walk picks the ones it needs.
    const hashes = [...new Set(all.map((r) => r.sessionHash))];
    const sessions = new Map((hashes.length ? await db.paymentSession.findMany({ where: { hash: { in: hashes } } }) : []).map((s) => [s.hash, s]));
    return { rowsOf: (payer) => byPayer.get(payer.toLowerCase()) ?? [], sessions };
  }

  /** One account's item (see collectWork) from its unsettled receipts, or null when it has nothing to settle now. */
  private async accountWork(
    payer: Address,
    chainSeq: bigint,
    budget: number,
    batchSlots: ReadonlySet<bigint>,
    all: readonly ReceiptRow[],
    stored: ReadonlyMap<string, SessionRow>,
  ): Promise<AccountWork | null> {
    const rows: (ReceiptRow & { n: bigint })[] = [];
    const settledPast: ReceiptRow[] = [];
    for (const row of all) {
      if (!CANONICAL_SEQ.test(row.seq)) {
        if (row.status === "pending") await this.quarantine([row], `its seq ${JSON.stringify(row.seq.slice(0, 30))} is not a voucher number`);
        continue;
      }
      const n = BigInt(row.seq);
      if (n > chainSeq) rows.push({ ...row, n });
      else if (row.status === "pending") settledPast.push(row);
    }
    // Pending below the chain's seq: the chain settled past them while the database did not record it.
    if (settledPast.length) await this.resolveSettledPast(payer, settledPast);
    rows.sort((a, b) => (a.n !== b.n ? (a.n < b.n ? -1 : 1) : a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1)));

    const sessions = new Map<string, SessionRow>();
    for (const row of rows) {
      const session = stored.get(row.sessionHash);
      if (session) sessions.set(row.sessionHash, session);
    }
    // A session closed here may have been revoked on chain: vouchers it issued from then on cannot settle.
    for (const session of sessions.values()) {
      if (session.revokedAt !== null && !this.revokedOnChain.has(session.hash) && /^0x[0-9a-fA-F]{64}$/.test(session.hash)) {
        const at = await this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "revokedAt", args: [session.hash as Hex] });
        if (at !== 0n) this.revokedOnChain.set(session.hash, at);
      }
    }
    const chosen: ReceiptRow[] = [];
    const records: QueryRecord[] = [];
    const checked = new Map<string, CheckedSession | Error>();
    const itemSlots = new Set(batchSlots);
    let voucher: VoucherCandidate | null = null;
    let previous: bigint | null = null;
    for (const row of rows) {
      // An answer still being written, or a batch still in flight: nothing after it can settle yet.
      if (row.status === "answering" || row.status === "sending") break;
      if (row.n === previous) {
        if (row.status === "pending") await this.quarantine([row], `another voucher of the account has seq ${row.seq}`);
        continue;
      }
      previous = row.n;
      let candidate: VoucherCandidate | null = null;
      let invalid: unknown = null;
      try {
        candidate = this.voucherOf(row, sessions.get(row.sessionHash), payer, checked);
      } catch (error) {
        invalid = error;
      }
      if (row.status !== "pending") {
        // Voided or failed: no record, but its voucher (when it can be settled) covers what came before.
        if (candidate) voucher = candidate;
        continue;
      }
      if (chosen.length >= budget) break;
      if (invalid) {
        await this.quarantine([row], `its voucher cannot be settled (${shortReason(invalid)})`);
        continue;
      }
      let record: QueryRecord;
      try {
        record = recordOf(row);
      } catch (error) {
        await this.quarantine([row], `its record cannot be encoded (${shortReason(error)})`);
        voucher = candidate;
        continue;
      }
      const slots = slotsOf(record).filter((s) => !itemSlots.has(s));
      if (itemSlots.size + new Set(slots).size > LIMITS.batchSlots) break; // the batch's slot table is full: next round
      for (const slot of slots) itemSlots.add(slot);
      chosen.push(row);
      records.push(record);
      voucher = candidate;
    }
    if (!voucher || chosen.length === 0) return null;

    let item: SettleItem;
    try {
      item = {
        session: voucher.session,
        sessionSignature: await this.sessionApproval(voucher.sessionRow, voucher.session),
        voucher: voucher.voucher,
        voucherSignature: voucher.signature,
        records,
      };
      // Throws on anything the contract would refuse as malformed.
      encodeSettle([item]);
    } catch (error) {
      await this.quarantine(chosen, `it cannot be encoded for the contract (${shortReason(error)})`);
      return null;
    }
    return { payer, session: voucher.sessionRow, item, rows: chosen };
  }

  /**
   * The voucher of `row`, with its session, when the contract could take it at all (throws why not). An
   * account's walk passes one `checked` map, so each of its sessions is checked and hashed once.
   */
  private voucherOf(row: ReceiptRow, sessionRow: SessionRow | undefined, payer: Address, checked: Map<string, CheckedSession | Error>): VoucherCandidate {
    if (!sessionRow) throw new Error("its session is not stored");
    let known = checked.get(sessionRow.hash);
    if (known === undefined) {
      try {
        known = this.sessionOf(sessionRow, payer);
      } catch (error) {
        known = error instanceof Error ? error : new Error(String(error));
      }
      checked.set(sessionRow.hash, known);
    }
    if (known instanceof Error) throw known;
    const { session, sessionHash } = known;
    if (!DECIMAL.test(row.cumulativeMax)) throw new Error("its cumulative maximum is not a number");
    if (!/^0x[0-9a-fA-F]{130}$/.test(row.signature)) throw new Error("its signature is not 65 bytes");
    const voucher: Voucher = {
      session: sessionHash,
      seq: BigInt(row.seq),
      issuedAt: BigInt(row.issuedAt),
      cumulativeMax: BigInt(row.cumulativeMax),
      charges: row.charges as Hex,
    };
    checkVoucher(voucher);
    // What the contract would reject the whole item for, found here so that only this voucher is passed over.
    if (voucher.issuedAt > session.expiry) throw new Error("it was issued after its session expired");
    const revokedAt = this.revokedOnChain.get(sessionRow.hash);
    if (revokedAt !== undefined && voucher.issuedAt >= revokedAt) throw new Error("it was issued after its session was revoked");
    return { row, sessionRow, session, voucher, signature: row.signature as Hex };
  }

  /** The session a stored row stands for, checked against `payer`, this operator and this deployment, and against its id (throws why not). */
  private sessionOf(sessionRow: SessionRow, payer: Address): CheckedSession {
    if (BigInt(payer) === 0n) throw new Error("its payer is the zero address");
    if (!sameAddress(sessionRow.payer, payer)) throw new Error("its session is another payer's");
    if (!sameAddress(sessionRow.operator, this.operator)) throw new Error("its session names another operator");
    if (sessionRow.chainId !== this.options.chainId || !sameAddress(sessionRow.settlement, this.options.settlement)) throw new Error("its session is for another deployment");
    if (!isAddress(sessionRow.key, { strict: false }) || BigInt(sessionRow.key) === 0n) throw new Error("its session key is not an address");
    if (!DECIMAL.test(sessionRow.spendCap) || !DECIMAL.test(sessionRow.nonce)) throw new Error("its session's numbers are malformed");
    const session: Session = {
      payer,
      key: getAddress(sessionRow.key),
      operator: this.operator,
      spendCap: BigInt(sessionRow.spendCap),
      expiry: BigInt(sessionRow.expiry),
      nonce: BigInt(sessionRow.nonce),
    };
    checkSession(session);
    const sessionHash = hashSession(session);
    if (sessionHash.toLowerCase() !== sessionRow.hash.toLowerCase()) throw new Error("its session's fields do not hash to its id");
    return { session, sessionHash };
  }

  /**
   * The payer's approval of the session as the contract takes it: an EOA payer's key signature, else the
   * wallet's signature for its ERC-1271 check, or "0x" once the contract recorded the wallet's approval.
   */
  private async sessionApproval(sessionRow: SessionRow, session: Session): Promise<SettleItem["sessionSignature"]> {
    const signature = sessionRow.signature as Hex;
    const cacheKey = `${sessionRow.hash}:${signature}`;
    let byKey = this.keySigned.get(cacheKey);
    if (byKey === undefined) {
      byKey = /^0x[0-9a-fA-F]*$/.test(signature) && (await isSignedByKey(sessionDigest(this.ctx, session), signature, session.payer));
      this.keySigned.set(cacheKey, byKey);
    }
    if (byKey) return { kind: "key", signature };
    if (!/^0x([0-9a-fA-F]{2})*$/.test(signature)) throw new Error("its session signature is not hex bytes");
    const approved =
      sessionRow.settledSeq !== "0" ||
      (await this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "walletApproved", args: [sessionRow.hash as Hex] }));
    return { kind: "wallet", signature: approved ? "0x" : signature };
  }

  /**
   * Rows at or below the account's settled seq: the chain settled past them while the database did not
   * record it (a restored backup, a lost update, a transaction mined after it was given up on). Each is
   * settled if a settlement transaction of this operator carried its record in an item that settled; else
   * it can never be paid, and fails (pending rows; failed ones keep their reason).
   */
  private async resolveSettledPast(payer: Address, rows: readonly ReceiptRow[], status: "pending" | "failed" = "pending"): Promise<void> {
    const { db } = this.options;
    const wanted = new Map<string, ReceiptRow[]>();
    for (const row of rows) {
      const key = (row.recordHash ?? "").toLowerCase();
      wanted.set(key, [...(wanted.get(key) ?? []), row]);
    }
    const found = new Map<string, Hex>();
    await this.scanSettlements((txHash, items) => {
      for (const item of items) {
        if (item.rejected !== null || !item.records || !isAddressEqual(item.session.payer, payer)) continue;
        for (const record of item.records) {
          const key = record.recordHash.toLowerCase();
          if (wanted.has(key) && !found.has(key)) found.set(key, txHash);
        }
      }
      return found.size === wanted.size;
    });
    for (const [key, group] of wanted) {
      const txHash = found.get(key);
      const ids = group.map((r) => r.id);
      if (txHash) {
        await db.receipt.updateMany({ where: { id: { in: ids }, status }, data: { status: "settled", txHash, failureReason: null } });
        this.log(`receipts ${ids.join(", ")} were settled by ${txHash}, which the database had not recorded`);
      } else if (status === "pending") {
        await db.receipt.updateMany({
          where: { id: { in: ids }, status: "pending" },
          data: { status: "failed", failureReason: "Not settled: the account settled past its voucher on chain without its record" },
        });
        this.log(`receipts ${ids.join(", ")} can no longer settle: the account's seq on chain is past them`);
      }
    }
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

  private async quarantineWhere(where: NonNullable<Parameters<Db["receipt"]["updateMany"]>[0]>["where"], why: string): Promise<void> {
    const reason = `Quarantined: ${why}`.slice(0, 300);
    const { count } = await this.options.db.receipt.updateMany({ where, data: { status: "failed", failureReason: reason } });
    this.log(`${count} receipts ${reason}`);
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

  /** The calldata a settlement transaction carried, from its signed bytes or from the chain. */
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
    let failed = 0;
    const handled = new Set<string>();
    // One item per account in a batch: the account's rows are the item's.
    const byItem = outcomes.map((item) => {
      const itemRows = rows.filter((r) => !handled.has(r.id) && sameAddress(r.payer, item.session.payer));
      itemRows.forEach((r) => handled.add(r.id));
      return { item, itemRows, ids: itemRows.map((r) => r.id) };
    });
    // The items that settled, all at once: their sessions' settled seqs and their rows, in one transaction.
    const accepted = byItem.filter(({ item }) => item.rejected === null);
    const settled = await this.recordSettled(
      accepted.map(({ item }) => item),
      accepted.flatMap(({ ids }) => ids),
      txReceipt.transactionHash,
    );
    for (const { item, itemRows, ids } of byItem) {
      if (item.rejected !== null) {
        await db.receipt.updateMany({
          where: { id: { in: ids } },
          data: { status: "failed", failureReason: `Rejected by the contract: ${item.rejected}`, txHash: txReceipt.transactionHash },
        });
        failed += ids.length;
        // Stale: the account settled past this voucher, perhaps with these very records (a transaction of
        // an earlier batch that was given up on and mined after all). Those are settled, not failed.
        if (item.rejected === "StaleVoucher" && itemRows.length) {
          await this.resolveSettledPast(item.session.payer, await db.receipt.findMany({ where: { id: { in: ids } } }), "failed");
          failed -= await db.receipt.count({ where: { id: { in: ids }, status: "settled" } });
        }
        // A session the contract will never take is closed here too: otherwise its failed rows would
        // count against neither its cap nor the balance, and it could be answered on for free.
        if (SESSION_FATAL.has(item.rejected)) await this.refuseSession(item.voucher.session, `the contract rejected it (${item.rejected})`);
      }
    }
    const left = rows.filter((r) => !handled.has(r.id));
    if (left.length) await db.receipt.updateMany({ where: { id: { in: left.map((r) => r.id) } }, data: { status: "pending", batchId: null } });
    await db.settlementBatch.update({ where: { id: batchId }, data: { status: "confirmed", txHash: txReceipt.transactionHash } });
    return { settled, failed };
  }

  /**
   * Items the chain settled, in one transaction: each voucher's session settled up to its seq (never moved
   * back; a stored seq that is not canonical counts as 0), and `ids` settled by `txHash`. Returns how many
   * of those rows it marked.
   */
  private async recordSettled(items: readonly DecodedItem[], ids: readonly string[], txHash: Hex | null): Promise<number> {
    const { db } = this.options;
    // The highest voucher seq per session (one item per account, so one per session in practice).
    const highest = new Map<string, bigint>();
    for (const { voucher } of items) {
      const known = highest.get(voucher.session);
      if (known === undefined || voucher.seq > known) highest.set(voucher.session, voucher.seq);
    }
    if (highest.size === 0 && ids.length === 0) return 0;
    const [, marked] = await db.$transaction([
      db.$executeRaw`
        UPDATE "PaymentSession" AS s SET "settledSeq" = v.seq
        FROM unnest(${[...highest.keys()]}::text[], ${[...highest.values()].map(String)}::text[]) AS v(hash, seq)
        WHERE s."hash" = v.hash
          AND v.seq::numeric > CASE WHEN s."settledSeq" ~ ${CANONICAL_SEQ_SQL} THEN s."settledSeq"::numeric ELSE 0 END`,
      db.receipt.updateMany({ where: { id: { in: [...ids] } }, data: { status: "settled", txHash, failureReason: null } }),
    ]);
    return marked.count;
  }

  /**
   * Decides each account of a batch whose transaction is not on chain, from the chain's own state: only
   * this operator moves an account's seq and an account never has two items in flight, so the item settled
   * iff the account's seq reached its voucher's (under a transaction found by scanning this operator's
   * settlements); otherwise its rows go back to pending.
   */
  private async resolveFromChain(batchId: string, rawTx: Hex | null): Promise<void> {
    const { db } = this.options;
    const rows = await db.receipt.findMany({ where: { batchId, status: "sending" } });
    const items = rawTx ? decodeSettle(parseTransaction(rawTx).data ?? "0x", this.operator) : [];
    for (const item of items) {
      const itemRows = rows.filter((r) => sameAddress(r.payer, item.session.payer));
      if (itemRows.length === 0) continue;
      const account = await this.client.readContract({ address: this.options.settlement, abi: kipSettlementAbi, functionName: "accountOf", args: [item.session.payer, this.operator] });
      if (BigInt(account.seq) < item.voucher.seq) continue;
      const txHash = await this.findSettlement(item.session.payer, item.voucher.seq);
      await this.recordSettled([item], itemRows.map((r) => r.id), txHash);
    }
    await db.$transaction([
      db.receipt.updateMany({ where: { batchId, status: "sending" }, data: { status: "pending", batchId: null } }),
      db.settlementBatch.update({ where: { id: batchId }, data: { status: "abandoned", error: "not on chain; accounts checked against the chain's settled seq" } }),
    ]);
  }

  /**
   * Visits this operator's settlement transactions, newest first (BatchSettled logs in bounded ranges), each
   * with its items' outcomes, until `visit` returns true or the deployment's first block is reached. The
   * head is read afresh (viem caches the block number for seconds): a transaction mined a moment ago is
   * often the one looked for.
   */
  private async scanSettlements(visit: (txHash: Hex, items: SettlementItemOutcome[]) => boolean): Promise<void> {
    const range = BigInt(this.options.logRange ?? LOG_RANGE);
    const first = this.options.fromBlock ?? 0n;
    for (let to = await this.client.getBlockNumber({ cacheTime: 0 }); to >= first; to -= range) {
      const from = to - range + 1n > first ? to - range + 1n : first;
      const logs = await this.client.getContractEvents({
        address: this.options.settlement,
        abi: kipSettlementAbi,
        eventName: "BatchSettled",
        args: { operator: this.operator },
        fromBlock: from,
        toBlock: to,
      });
      const newest = [...logs].sort((a, b) => (a.blockNumber !== b.blockNumber ? (a.blockNumber > b.blockNumber ? -1 : 1) : b.logIndex - a.logIndex));
      for (const txHash of new Set(newest.map((l) => l.transactionHash))) {
        const [tx, receipt] = await Promise.all([this.client.getTransaction({ hash: txHash }), this.client.getTransactionReceipt({ hash: txHash })]);
        if (receipt.status !== "success") continue;
        let items: SettlementItemOutcome[];
        try {
          items = settlementOutcome(tx.input, this.operator, this.options.settlement, receipt.logs);
        } catch {
          continue; // not a settle call to this contract (e.g. through another contract)
        }
        if (visit(txHash, items)) return;
      }
      if (from === first) break;
    }
  }

  /** The transaction that settled `payer`'s account up to `seq` (an item of it with that voucher seq that the contract did not reject). */
  async findSettlement(payer: Address, seq: bigint): Promise<Hex | null> {
    let found: Hex | null = null;
    await this.scanSettlements((txHash, items) => {
      if (items.some((item) => item.rejected === null && item.voucher.seq === seq && isAddressEqual(item.session.payer, payer))) found = txHash;
      return found !== null;
    });
    return found;
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
