// Admitting a paid question: the receipt is checked (session, payer, charge set, deadline, signature,
// unused nonce, spend cap, balance on chain minus what is already pending) and stored together with
// the user's message BEFORE any model is called. Checks that depend on other receipts of the same payer
// run under a per-payer lock, so two questions sent at once cannot both spend the same balance.
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import type { Db } from "@/lib/db-client";
import { verifyReceipt, type Receipt } from "@/lib/protocol";
import type { ChainContext } from "./charges";
import { shortError } from "./charges";
import { ChatError } from "./errors";
import type { ChargeSet } from "./types";

/** A receipt's deadline must leave the settler at least this long… */
export const MIN_DEADLINE_SECONDS = 120;
/** …and be at most this far away. */
export const MAX_DEADLINE_SECONDS = 24 * 60 * 60;

/** Receipt statuses that still hold (or may hold) the payer's money. */
export const OPEN_STATUSES = ["answering", "pending", "sending"] as const;

export interface PaymentInput {
  sessionHash: Hex;
  receipt: { payer: Address; slots: string[]; maxAmounts: string[]; nonce: string; deadline: string };
  signature: Hex;
}

export interface QuestionInput {
  conversationId: string;
  appId: string;
  owner: Address;
  /** The new user message; absent when an answer is regenerated. */
  userMessage?: { id: string; text: string };
  title: string;
}

const locks = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task for `key` has finished. */
export async function withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** What a receipt holds of the payer's balance: its fixed total once known, else its maximum. */
function held(receipt: { total: string | null; maxTotal: string; status: string }): bigint {
  return BigInt(receipt.status === "answering" ? receipt.maxTotal : (receipt.total ?? receipt.maxTotal));
}

/** Receipts of `payer` not yet settled, failed or voided: what their balance on chain does not show yet. */
export async function pendingCharges(db: Db, chain: Pick<ChainContext, "chainId" | "settlement">, payer: Address): Promise<bigint> {
  const open = await db.receipt.findMany({
    where: { chainId: chain.chainId, settlement: chain.settlement, payer: getAddress(payer), status: { in: [...OPEN_STATUSES] } },
    select: { total: true, maxTotal: true, status: true },
  });
  return open.reduce((sum, r) => sum + held(r), 0n);
}

function sameCharges(chargeSet: ChargeSet, receipt: PaymentInput["receipt"]): boolean {
  return (
    receipt.slots.length === chargeSet.slots.length &&
    chargeSet.slots.every((s, i) => receipt.slots[i] === s.slot && receipt.maxAmounts[i] === s.price)
  );
}

/** Ensures the conversation exists and belongs to `owner` for this app; creates it on first use. */
async function ensureConversation(tx: Db, question: QuestionInput) {
  const conversation = await tx.conversation.upsert({
    where: { id: question.conversationId },
    update: { updatedAt: new Date() },
    create: { id: question.conversationId, owner: question.owner, appId: question.appId, title: question.title },
    select: { owner: true, appId: true },
  });
  if (conversation.owner !== question.owner || conversation.appId !== question.appId) {
    throw new ChatError("forbidden", "sign_in", "This conversation belongs to another wallet or app.");
  }
}

async function storeUserMessage(tx: Db, question: QuestionInput) {
  if (!question.userMessage) return;
  try {
    await tx.chatMessage.create({
      data: { id: question.userMessage.id, conversationId: question.conversationId, role: "user", text: question.userMessage.text },
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ChatError("conflict", "app_unavailable", "This message was already sent.");
    throw error;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return String((error as { code?: string }).code) === "P2002" || /Unique constraint/i.test(String(error));
}

/** A free app's question: only the conversation and the user's message are stored. */
export async function admitFreeQuestion(db: Db, question: QuestionInput): Promise<void> {
  await db.$transaction(async (tx) => {
    await ensureConversation(tx as unknown as Db, question);
    await storeUserMessage(tx as unknown as Db, question);
  });
}

/** Checks a paid question's receipt and stores it (status "answering") with the user's message. */
export async function admitPaidQuestion(
  db: Db,
  chain: ChainContext,
  chargeSet: ChargeSet,
  question: QuestionInput,
  payment: PaymentInput,
  now = Math.floor(Date.now() / 1000),
): Promise<{ receiptId: string; maxTotal: bigint }> {
  const session = await db.paymentSession.findUnique({ where: { hash: payment.sessionHash } });
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

  return withLock(`${chain.chainId}:${payer}`, async () => {
    const [spent, pending] = await Promise.all([
      db.receipt.findMany({
        where: { sessionHash: session.hash, status: { notIn: ["void", "failed"] } },
        select: { total: true, maxTotal: true, status: true },
      }),
      pendingCharges(db, chain, payer),
    ]);
    const sessionSpent = spent.reduce((sum, r) => sum + held(r), 0n);
    if (sessionSpent + maxTotal > BigInt(session.spendCap)) {
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
    try {
      const stored = await db.$transaction(async (tx) => {
        await ensureConversation(tx as unknown as Db, question);
        await storeUserMessage(tx as unknown as Db, question);
        return tx.receipt.create({
          data: {
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
            status: "answering",
            appId: question.appId,
            conversationId: question.conversationId,
          },
          select: { id: true },
        });
      });
      return { receiptId: stored.id, maxTotal };
    } catch (error) {
      if (error instanceof ChatError) throw error;
      if (isUniqueViolation(error)) {
        throw new ChatError("conflict", "nonce_used", "This receipt number was already used. Send again.");
      }
      throw error;
    }
  });
}
