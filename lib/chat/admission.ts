// Admitting a paid question: the voucher is checked (session, payer, operator, revocation, issue time,
// signature, and that it is exactly the account's next voucher for this app's charge set) against the
// spend cap and the payer's balance with this operator on chain minus what is still to be paid, and stored
// together with the user's message BEFORE any model is called: one statement reads the session, the
// account's newest voucher and open receipts (in the chat, the statement that also reads the sign-in and
// counts the rate limits), then the chain is read, then one statement stores the question. The receipts
// are read before the chain, which makes the reading exact (./balance.ts).
//
// Two questions sent at once, to one app server or to two, cannot both spend the same balance, and no lock
// is needed for that: the account's numbers order its admissions. A voucher is admitted only as the account's
// exact next number over what the reading saw, and its receipt is stored only if no receipt holds that
// number yet (unique per account and number, ON CONFLICT DO NOTHING: the loser gets "nonce_used"). So of
// two admissions that built on the same reading, one stores; and the next number can only be admitted
// by a reading that saw the receipt of this one. Every stored voucher was checked against all the
// receipts before it. This rests on what the rest of the chat keeps true: numbers have no gaps (each is
// admitted over the one before), what a receipt holds only goes down (answering holds its maximum, a
// finished answer its charge), and a void, failed or settled receipt never opens again, so a reading that
// is a moment old can only count too much. API keys, whose vouchers the server signs, take the payer's
// lock (withPayerLock), so a key's own queries sent at once are numbered in turn instead of racing for one
// number (a browser tab of the same wallet can still take a number in between: the key then signs again).
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import { withAdvisoryLock, type Db } from "@/lib/db-client";
import type { Prisma } from "@/lib/generated/prisma/client";
import { isSignedByKey, nextVoucherFields, sessionDigest, verifyVoucher, type Session, type Voucher } from "@/lib/protocol";
import { LIMITS } from "@/lib/protocol";
import type { ChainContext } from "./charges";
import { serverKeccak } from "./keccak";
import { recoverSigner } from "./secp256k1";
import { accountKey, accountOnChain, accountView, readAccount, revokedOnChain } from "./balance";
import { ChatError } from "./errors";
import { admissionQuery, admissionState, storeQuestion, type AdmissionSession, type AdmissionState, type ConversationMessage, type DbOrTx, type QuestionRecord } from "./store";
import type { ChargeSet } from "./types";
import type { IndexVersions } from "@/lib/rag/search";

/** How far in the past a voucher's issue time may be, by the server's clock. */
export const ISSUED_AT_SKEW_SECONDS = 120;

/**
 * How far in the future it may be: well within the contract's REVOKE_DELAY (120 s), so a voucher admitted
 * now is issued before any revocation sent from now on takes effect, and always settles.
 */
export const ISSUED_AT_FUTURE_SECONDS = 60;

export interface PaymentInput {
  sessionHash: Hex;
  voucher: { seq: string; issuedAt: string; cumulativeMax: string; charges: Hex };
  signature: Hex;
}

/**
 * Why a paid question without a voucher cannot be answered, in the order the user has to act: a balance
 * that cannot pay for one message needs a deposit first, and only then a spending session.
 */
export async function missingPayment(db: Db, chain: ChainContext, chargeSet: ChargeSet, payer: Address): Promise<ChatError> {
  const maxTotal = chargesOf(chargeSet).reduce((sum, c) => sum + c.max, 0n);
  if ((await readAccount(db, chain, payer)).headroom < maxTotal) {
    return new ChatError(
      "payment_required",
      "balance_too_low",
      "Your prepaid balance cannot pay for a message yet. Deposit first, then authorize a spending session.",
    );
  }
  return new ChatError("payment_required", "session_required", "This app is paid per message: authorize a spending session first.");
}

/** How long an API admission may wait for the payer's lock and the chain before it gives up. */
const ADMISSION_TIMEOUT_MS = 15_000;

/** The charge set as one query's maxima per slot. */
export function chargesOf(chargeSet: ChargeSet): { slot: bigint; max: bigint }[] {
  return chargeSet.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) }));
}

/** Sessions known to be signed by their payer's own key, not approved by a wallet (a fact that never changes). */
const keySigned = new Map<string, boolean>();

/** Whether the session's signature is its payer's key signature (recovered once per session and process). */
async function isKeySigned(chain: ChainContext, session: AdmissionSession): Promise<boolean> {
  let known = keySigned.get(session.hash);
  if (known === undefined) {
    known = await isSignedByKey(sessionDigest(chain, sessionOf(session)), session.signature as Hex, getAddress(session.payer), recoverSigner);
    if (keySigned.size >= 10_000) keySigned.delete(keySigned.keys().next().value!);
    keySigned.set(session.hash, known);
  }
  return known;
}

/** The EIP-712 Session a stored session row was signed as. */
function sessionOf(row: AdmissionSession): Session {
  return {
    payer: getAddress(row.payer),
    key: getAddress(row.key),
    operator: getAddress(row.operator),
    spendCap: BigInt(row.spendCap),
    expiry: BigInt(row.expiry),
    nonce: BigInt(row.nonce),
  };
}

/** A free app's question: only the conversation and the user's message are stored. */
export async function admitFreeQuestion(db: Db, question: QuestionRecord): Promise<void> {
  await storeQuestion(db, question, null);
}

/**
 * Checks a paid question's voucher and stores it (status "answering") with the user's message. `read` is
 * what an admissionReading read in the statement that read the sign-in (lib/chat/server.ts); it is used
 * only if it was read for this very question, session and payer, else admission reads the database itself.
 */
export async function admitPaidQuestion(
  db: Db,
  chain: ChainContext,
  chargeSet: ChargeSet,
  question: QuestionRecord,
  payment: PaymentInput,
  read?: AdmissionRead,
): Promise<AdmittedQuestion> {
  return admitVoucher(db, chain, chargeSet, question, payment, { read });
}

/** The charge set's datasets, whose versions admission reads. */
function datasetIdsOf(chargeSet: ChargeSet): string[] {
  return chargeSet.slots.filter((s) => s.role === "dataset").map((s) => s.listingId);
}

/**
 * What admitting a question paid through the session `sessionHash` reads from the database
 * (lib/chat/store.ts admissionQuery), for a payer named in SQL: the chat route reads it in the statement
 * that reads the sign-in, so a paid question's reading costs no round trip of its own.
 */
export interface AdmissionReading {
  chainId: number;
  settlement: string;
  operator: string;
  sessionHash: string;
  conversationId: string;
  appId: string;
  datasetIds: readonly string[];
  /** The SELECT, for the payer `payer` names. */
  query(payer: Prisma.Sql): Prisma.Sql;
}

/** An AdmissionReading's result, with the payer it was read for as the sign-in row spells it (admission uses it only if that is the checksummed owner). */
export interface AdmissionRead {
  reading: AdmissionReading;
  payer: string;
  state: AdmissionState;
}

export function admissionReading(
  chain: Pick<ChainContext, "chainId" | "settlement" | "operator">,
  chargeSet: ChargeSet,
  question: Pick<QuestionRecord, "conversationId" | "appId">,
  sessionHash: string,
): AdmissionReading {
  const reading = {
    chainId: chain.chainId,
    settlement: chain.settlement,
    operator: chain.operator,
    sessionHash,
    conversationId: question.conversationId,
    appId: question.appId,
    datasetIds: datasetIdsOf(chargeSet),
  };
  return { ...reading, query: (payer) => admissionQuery({ ...reading, payer }, sessionHash, question, reading.datasetIds) };
}

/** Whether `read` is what admission would read itself for this payer, session, question and charge set. */
function readFor(read: AdmissionRead, chain: ChainContext, payer: Address, sessionHash: string, question: QuestionRecord, datasetIds: readonly string[]): boolean {
  const r = read.reading;
  return (
    read.payer === payer &&
    r.sessionHash === sessionHash &&
    r.chainId === chain.chainId &&
    r.settlement === chain.settlement &&
    r.operator === chain.operator &&
    r.conversationId === question.conversationId &&
    r.appId === question.appId &&
    r.datasetIds.length === datasetIds.length &&
    r.datasetIds.every((id, i) => id === datasetIds[i])
  );
}

/**
 * Runs `admit` in one transaction holding the payer's admission lock: every server admitting an API query
 * for this payer waits here, so the server signs each of them the account's next number in turn (see the
 * top of this file). Browser vouchers, signed by their tabs, take no lock.
 */
export function withPayerLock<T>(db: Db, chain: Pick<ChainContext, "chainId" | "settlement">, payer: Address, admit: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  const lockKey = `kip-admission:${chain.chainId}:${chain.settlement.toLowerCase()}:${getAddress(payer).toLowerCase()}`;
  return withAdvisoryLock(db, lockKey, ADMISSION_TIMEOUT_MS, admit);
}

export interface AdmittedQuestion {
  receiptId: string;
  maxTotal: bigint;
  /** The conversation's newest messages before this question (at most MAX_HISTORY_TURNS), oldest first. */
  history: ConversationMessage[];
  /** The versions of the charge set's datasets, read with the account: what the answer searches. */
  datasetVersions: Map<string, IndexVersions>;
}

/**
 * A voucher the server signs itself (an API key's, whose session key it holds): signed over the account's
 * next voucher fields as admission reads them, so the account is read once.
 */
export interface ServerSignedVoucher {
  sessionHash: Hex;
  sign(fields: { seq: bigint; issuedAt: bigint; cumulativeMax: bigint; charges: Hex }): Promise<Hex>;
}

/**
 * admitPaidQuestion's checks and store, on the database or inside a transaction (withPayerLock). `read`:
 * the database's part already read (admissionReading), used if it was read for exactly this.
 */
export async function admitVoucher(
  tx: DbOrTx,
  chain: ChainContext,
  chargeSet: ChargeSet,
  question: QuestionRecord,
  voucherOrSigner: PaymentInput | ServerSignedVoucher,
  { now = Math.floor(Date.now() / 1000), read }: { now?: number; read?: AdmissionRead } = {},
): Promise<AdmittedQuestion> {
  const owner = getAddress(question.owner);
  const charges = chargesOf(chargeSet);
  const maxTotal = charges.reduce((sum, c) => sum + c.max, 0n);
  const datasetIds = datasetIdsOf(chargeSet);
  const receipts =
    read && readFor(read, chain, owner, voucherOrSigner.sessionHash, question, datasetIds)
      ? read.state
      : await admissionState(tx, accountKey(chain, owner), voucherOrSigner.sessionHash, question, datasetIds);
  const { session, history } = receipts;
  // The chain is read right after the receipts (the order that makes the reading exact): started now,
  // awaited after the checks.
  const onChain = accountOnChain(chain, owner);
  onChain.catch(() => undefined);
  // A revocation on chain that this server's database has not caught up with yet: a voucher of a revoked
  // session would be refused at settlement, and its answer given for free.
  const revoked = revokedOnChain(chain, voucherOrSigner.sessionHash);
  revoked.catch(() => undefined);
  const keccak = await serverKeccak();
  // A server-signed voucher is signed here, over this reading: the checks below then hold it like any other.
  let payment: PaymentInput;
  if ("sign" in voucherOrSigner) {
    const fields = { issuedAt: BigInt(now), ...nextVoucherFields(accountView(receipts, await onChain).position, charges, keccak) };
    payment = {
      sessionHash: voucherOrSigner.sessionHash,
      voucher: { seq: String(fields.seq), issuedAt: String(now), cumulativeMax: String(fields.cumulativeMax), charges: fields.charges },
      signature: await voucherOrSigner.sign(fields),
    };
  } else payment = voucherOrSigner;
  if (!session || session.chainId !== chain.chainId || !isAddressEqual(session.settlement as Address, chain.settlement)) {
    throw new ChatError("forbidden", "session_unknown", "This spending session is not known here. Authorize a new session.");
  }
  const payer = getAddress(session.payer);
  if (!isAddressEqual(payer, owner)) {
    throw new ChatError("forbidden", "wrong_payer", "This spending session belongs to another wallet.");
  }
  if (!isAddressEqual(session.operator as Address, chain.operator)) {
    throw new ChatError("forbidden", "wrong_operator", "This spending session is for another operator. Authorize a new session.");
  }
  if (session.revokedAt !== null) {
    throw new ChatError("forbidden", "session_revoked", "This spending session was revoked. Authorize a new one to keep chatting.");
  }
  if (session.expiry <= now) {
    throw new ChatError("forbidden", "session_expired", "Your spending session has expired. Authorize a new one.");
  }
  const issuedAt = Number(payment.voucher.issuedAt);
  if (!Number.isSafeInteger(issuedAt) || issuedAt < now - ISSUED_AT_SKEW_SECONDS || issuedAt > now + ISSUED_AT_FUTURE_SECONDS || issuedAt > session.expiry) {
    throw new ChatError("bad_request", "expired", "The voucher's time is too far from now or after the session ends. Check this device's clock.");
  }
  const voucher: Voucher = {
    session: session.hash as Hex,
    seq: BigInt(payment.voucher.seq),
    issuedAt: BigInt(issuedAt),
    cumulativeMax: BigInt(payment.voucher.cumulativeMax),
    charges: payment.voucher.charges,
  };
  // A session a smart wallet approved (not the payer's own key signature) is proven only when the
  // contract asks the wallet, at its first settlement: until then it takes one question at a time, so a
  // wallet that approved here and refuses there gets one answer, not a session's worth. And only when
  // nothing else of the account is open: its voucher, the account's newest, would settle the account's
  // other queries too, and a refusal would take them down with it.
  if (session.settledSeq === "0" && (session.open > 0 || receipts.open.length > 0) && !(await isKeySigned(chain, session))) {
    throw new ChatError("conflict", "session_confirming", "Your wallet's spending session is being confirmed on chain with your first message. Send again in a few seconds.");
  }
  if ((await revoked) !== 0n) {
    throw new ChatError("forbidden", "session_revoked", "This spending session was revoked. Authorize a new one to keep chatting.");
  }
  if (!(await verifyVoucher({ chainId: chain.chainId, settlement: chain.settlement }, voucher, payment.signature, session.key as Address, recoverSigner, keccak))) {
    throw new ChatError("forbidden", "bad_signature", "The voucher is not signed by this session's key.");
  }
  // The voucher must be the account's next one for exactly this app's charge set: the next seq, the running
  // maximum grown by this query's maxima, and their hash. Anything else (a reused seq, a skipped one, a
  // lower maximum, other prices) is refused: the browser re-reads the account and signs again.
  const account = accountView(receipts, await onChain);
  const expected = nextVoucherFields(account.position, charges, keccak);
  if (voucher.seq !== expected.seq || voucher.cumulativeMax !== expected.cumulativeMax || voucher.charges.toLowerCase() !== expected.charges) {
    const stale = voucher.seq <= account.position.seq;
    throw new ChatError(
      "conflict",
      stale ? "nonce_used" : "charges_changed",
      stale
        ? "This voucher's number was already used (another tab or device sent a message). Send again."
        : "The voucher does not match this app's prices and your account's previous voucher. Review the price and send again.",
    );
  }
  // The contract holds the account's whole charged total to the session's cap: what other sessions of
  // this wallet spent counts too.
  if (account.committed + maxTotal > BigInt(session.spendCap)) {
    throw new ChatError("payment_required", "over_cap", "This message would take your account past this session's spending cap. Authorize a new session.");
  }
  if (expected.cumulativeMax > LIMITS.cumulative || expected.seq > LIMITS.seq) {
    throw new ChatError("payment_required", "over_cap", "This account has reached the most the settlement contract can count. Use another wallet.");
  }
  if (account.headroom < maxTotal) {
    throw new ChatError(
      "payment_required",
      "balance_too_low",
      "Your prepaid balance is too low for this message (balance minus pending charges and withdrawal requests). Deposit more to continue.",
    );
  }
  const receiptId = await storeQuestion(tx, question, {
    chainId: chain.chainId,
    settlement: chain.settlement,
    operator: chain.operator,
    payer,
    seq: voucher.seq.toString(),
    issuedAt,
    sessionHash: session.hash,
    slotsJson: JSON.stringify(charges.map((c) => c.slot.toString())),
    maxAmountsJson: JSON.stringify(charges.map((c) => c.max.toString())),
    charges: expected.charges,
    cumulativeMax: expected.cumulativeMax.toString(),
    maxTotal: maxTotal.toString(),
    signature: payment.signature,
  });
  return { receiptId: receiptId!, maxTotal, history, datasetVersions: receipts.datasetVersions };
}
