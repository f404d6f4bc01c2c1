// Conversation history per wallet: list, open (as the UI messages useChat shows), delete.
import type { Address } from "viem";
import type { Db } from "@/lib/db-client";
import type { ChargeStatus, ChatUIMessage, MessageCharge, SourceRef } from "./types";

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: string;
  messages: number;
}

export async function listConversations(db: Db, owner: Address, appId: string): Promise<ConversationSummary[]> {
  const rows = await db.conversation.findMany({
    where: { owner, appId },
    orderBy: { updatedAt: "desc" },
    take: 100,
    select: { id: true, title: true, updatedAt: true, _count: { select: { messages: true } } },
  });
  return rows.map((r) => ({ id: r.id, title: r.title, updatedAt: r.updatedAt.toISOString(), messages: r._count.messages }));
}

type ReceiptRow = { id: string; status: string; maxTotal: string; total: string | null; txHash: string | null; failureReason: string | null; chargeNote?: string | null };

export function chargeOf(receipt: ReceiptRow | null | undefined): MessageCharge {
  if (!receipt) return { receiptId: null, status: "free", maxTotal: "0", total: "0", txHash: null, failureReason: null };
  return {
    receiptId: receipt.id,
    status: receipt.status as ChargeStatus,
    maxTotal: receipt.maxTotal,
    total: receipt.status === "void" ? "0" : receipt.total,
    txHash: receipt.txHash,
    failureReason: receipt.failureReason,
    note: receipt.chargeNote ?? (receipt.status === "void" && receipt.failureReason ? `Not charged: ${receipt.failureReason}.` : null),
  };
}

const receiptSelect = { id: true, status: true, maxTotal: true, total: true, txHash: true, failureReason: true, chargeNote: true } as const;

/** The conversation's messages as UI messages, or null when it is not `owner`'s. */
export async function openConversation(db: Db, owner: Address, conversationId: string): Promise<{ appId: string; title: string; messages: ChatUIMessage[] } | null> {
  const conversation = await db.conversation.findUnique({
    where: { id: conversationId },
    include: { messages: { orderBy: { createdAt: "asc" } } },
  });
  if (!conversation || conversation.owner !== owner) return null;
  const receiptIds = conversation.messages.map((m) => m.receiptId).filter((id): id is string => Boolean(id));
  const receipts = new Map(
    (await db.receipt.findMany({ where: { id: { in: receiptIds } }, select: receiptSelect })).map((r) => [r.id, r]),
  );
  const messages = conversation.messages.map((m): ChatUIMessage => {
    if (m.role === "user") {
      return { id: m.id, role: "user", parts: [{ type: "text", text: m.text }], metadata: { createdAt: m.createdAt.getTime() } };
    }
    const sources = m.sourcesJson ? (JSON.parse(m.sourcesJson) as SourceRef[]) : [];
    return {
      id: m.id,
      role: "assistant",
      parts: [
        { type: "data-sources", id: "sources", data: { sources } },
        { type: "text", text: m.text, state: "done" },
      ],
      metadata: {
        createdAt: m.createdAt.getTime(),
        charge: chargeOf(m.receiptId ? receipts.get(m.receiptId) : null),
        answerStatus: m.status === "stopped" ? "stopped" : "complete",
      },
    };
  });
  return { appId: conversation.appId, title: conversation.title, messages };
}

/** Charge status of some receipts of `payer` (the page polls this until they settle). */
export async function receiptStatuses(db: Db, payer: Address, ids: string[]): Promise<Record<string, MessageCharge>> {
  const rows = await db.receipt.findMany({ where: { id: { in: ids }, payer }, select: receiptSelect });
  return Object.fromEntries(rows.map((r) => [r.id, chargeOf(r)]));
}

/** Deletes a conversation and its messages. Receipts stay: they are payment records. */
export async function deleteConversation(db: Db, owner: Address, conversationId: string): Promise<boolean> {
  const { count } = await db.conversation.deleteMany({ where: { id: conversationId, owner } });
  return count > 0;
}
