// Admitting a paid question: the receipt is checked (session, payer, charge set, deadline, signature,
// unused nonce, spend cap, balance on chain minus what is already pending) and stored together with
// the user's message BEFORE any model is called. Checks that depend on other receipts of the same payer
// run in one database transaction holding a per-payer advisory lock, so two questions sent at once, to
// the same app server or to two of them, cannot both spend the same balance. Inside it the receipts are
// read before the chain: a batch settling in between only makes the balance look smaller, never larger.
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import type { Db } from "@/lib/db-client";
import { verifyReceipt, type Receipt } from "@/lib/protocol";
import type { ChainContext } from "./charges";
import { shortError } from "./charges";
import { ChatError } from "./errors";
import { heldAmounts, paymentSession, pendingHolds, storeQuestion, type DbOrTx, type QuestionRecord } from "./store";
import type { ChargeSet } from "./types";

/** A receipt's deadline must leave the settler at least this long… */
export const MIN_DEADLINE_SECONDS = 120;
/** …and be at most this far away. */
export const MAX_DEADLINE_SECONDS = 24 * 60 * 60;

export interface PaymentInput {
  sessionHash: Hex;
  receipt: { payer: Address; slots: string[]; maxAmounts: string[]; nonce: string; deadline: string };
  signature: Hex;
}

/** Receipts of `payer` not yet settled, failed or voided: what their balance on chain does not show yet. */
export async function pendingCharges(db: DbOrTx, chain: Pick<ChainContext, "chainId" | "settlement">, payer: Address): Promise<bigint> {
  return pendingHolds(db, chain, getAddress(payer));
}

/** How long an admission may wait for the payer's lock and the chain before it gives up. */
const ADMISSION_TIMEOUT_MS = 15_000;

function sameCharges(chargeSet: ChargeSet, receipt: PaymentInput["receipt"]): boolean {
  return (
    receipt.slots.length === chargeSet.slots.length &&
    chargeSet.slots.every((s, i) => receipt.slots[i] === s.slot && receipt.maxAmounts[i] === s.price)
  );
}

/** A free app's question: only the conversation and the user's message are stored. */
export async function admitFreeQuestion(db: Db, question: QuestionRecord): Promise<void> {
  await storeQuestion(db, question, null);
}

/** Checks a paid question's receipt and stores it (status "answering") with the user's message. */
export async function admitPaidQuestion(
  db: Db,
  chain: ChainContext,
  chargeSet: ChargeSet,
  question: QuestionRecord,
  payment: PaymentInput,
  now = Math.floor(Date.now() / 1000),
): Promise<{ receiptId: string; maxTotal: bigint }> {
  const session = await paymentSession(db, payment.sessionHash);
  if (!session || session.chainId !== chain.chainId || !isAddressEqual(session.settlement as Address, chain.settlement)) {
    throw new ChatError("forbidden", "session_unknown", "This spending session is not known here. Authorize a new session.");
  }
  const payer = getAddress(payment.receipt.payer);
  if (!isAddressEqual(payer, question.owner) || !isAddressEqual(session.payer as Address, question.owner)) {
    throw new ChatError("forbidden", "wrong_payer", "The receipt's payer is not the signed-in wallet.");
  }
  if (session.expiry <= now) {
    throw new ChatError("forbidden", "session_expired", "Your spending session has expired. Authorize a new one.");
  }
  if (!sameCharges(chargeSet, payment.receipt)) {
    throw new ChatError("conflict", "charges_changed", "This app's prices changed. Review the new price and send again.");
  }
  const deadline = Number(payment.receipt.deadline);
  if (!Number.isSafeInteger(deadline) || deadline < now + MIN_DEADLINE_SECONDS || deadline > now + MAX_DEADLINE_SECONDS || deadline > session.expiry) {
    throw new ChatError("bad_request", "expired", "The receipt's deadline is too close, too far, or after the session ends.");
  }
  const receipt: Receipt = {
    payer,
    slots: payment.receipt.slots.map(BigInt),
    maxAmounts: payment.receipt.maxAmounts.map(BigInt),
    nonce: BigInt(payment.receipt.nonce),
    deadline: BigInt(deadline),
  };
  const ctx = { chainId: chain.chainId, settlement: chain.settlement };
  if (!(await verifyReceipt(ctx, receipt, payment.signature, session.key as Address))) {
    throw new ChatError("forbidden", "bad_signature", "The receipt is not signed by this session's key.");
  }
  const maxTotal = receipt.maxAmounts.reduce((a, b) => a + b, 0n);

  const lockKey = `kip-admission:${chain.chainId}:${chain.settlement.toLowerCase()}:${payer.toLowerCase()}`;
  return db.$transaction(async (tx) => {
    // Held until the transaction ends; every server admitting for this payer waits here.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${lockKey}, 0))`;
    const { spent, pending } = await heldAmounts(tx, chain, payer, session.hash);
    if (spent + maxTotal > BigInt(session.spendCap)) {
      throw new ChatError("payment_required", "over_cap", "This message would take your session past its spending cap. Authorize a new session.");
    }
    let onChain: [bigint, { amount: bigint }, boolean];
    try {
      onChain = await Promise.all([
        chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "balanceOf", args: [payer] }),
        chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [payer] }),
        chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "nonceUsed", args: [payer, receipt.nonce] }),
      ]);
    } catch (error) {
      throw new ChatError("upstream_unavailable", "chain_unavailable", `The chain cannot be reached to check your balance (${shortError(error)}).`);
    }
    const [balance, withdrawal, nonceUsed] = onChain;
    if (nonceUsed) throw new ChatError("conflict", "nonce_used", "This receipt number was already used. Send again.");
    const available = balance - withdrawal.amount - pending;
    if (available < maxTotal) {
      throw new ChatError(
        "payment_required",
        "balance_too_low",
        "Your prepaid balance is too low for this message (balance minus pending charges and withdrawal requests). Deposit more to continue.",
      );
    }
    const receiptId = await storeQuestion(tx, question, {
      chainId: chain.chainId,
      settlement: chain.settlement,
      payer,
      nonce: receipt.nonce.toString(),
      deadline,
      sessionHash: session.hash,
      slotsJson: JSON.stringify(payment.receipt.slots),
      maxAmountsJson: JSON.stringify(payment.receipt.maxAmounts),
      maxTotal: maxTotal.toString(),
      signature: payment.signature,
    });
    return { receiptId: receiptId!, maxTotal };
  }, { maxWait: ADMISSION_TIMEOUT_MS, timeout: ADMISSION_TIMEOUT_MS });
}
