// The chat hot path's reads and writes, as prepared statements on the Prisma client's SQLite file
// (lib/db-direct.ts says why and what keeps the rows readable by Prisma). Everything else about
// conversations and receipts goes through Prisma. Each write is one synchronous transaction.
import type { Address } from "viem";
import type { Db } from "@/lib/db-client";
import { direct, isDirectUniqueViolation, newId, sqliteDate, type Direct } from "@/lib/db-direct";
import { ChatError } from "./errors";

/** Receipt statuses that still hold (or may hold) the payer's money. */
export const OPEN_STATUSES = ["answering", "pending", "sending"] as const;

const OPEN_LIST = OPEN_STATUSES.map((s) => `'${s}'`).join(", ");

export interface QuestionRecord {
  conversationId: string;
  appId: string;
  owner: Address;
  /** The new user message; absent when an answer is regenerated. */
  userMessage?: { id: string; text: string };
  title: string;
}

export interface NewReceipt {
  chainId: number;
  settlement: string;
  payer: string;
  nonce: string;
  deadline: number;
  sessionHash: string;
  slotsJson: string;
  maxAmountsJson: string;
  maxTotal: string;
  signature: string;
}

export interface SessionRow {
  hash: string;
  chainId: number;
  settlement: string;
  payer: string;
  key: string;
  spendCap: string;
  expiry: number;
}

type Hold = [total: string | null, maxTotal: string, status: string];

/** What a receipt holds of the payer's balance: its fixed total once known, else its maximum. */
function held([total, maxTotal, status]: Hold): bigint {
  return BigInt(status === "answering" ? maxTotal : (total ?? maxTotal));
}

// Amounts are decimal strings of up to 256-bit values: summed here as bigints, not by SQLite.
const sum = (rows: unknown[]) => (rows as Hold[]).reduce((total, row) => total + held(row), 0n);

/** The conversation's messages, oldest first; none when it is not `owner`'s conversation with `appId`. */
export function conversationMessages(db: Db, q: Pick<QuestionRecord, "conversationId" | "owner" | "appId">) {
  return direct(db, (d) =>
    d
      .prepare(
        `SELECT m."id", m."role", m."text" FROM "ChatMessage" m JOIN "Conversation" c ON c."id" = m."conversationId"
         WHERE m."conversationId" = ? AND c."owner" = ? AND c."appId" = ? ORDER BY m."createdAt" ASC`,
      )
      .all(q.conversationId, q.owner, q.appId) as { id: string; role: string; text: string }[],
  );
}

export function paymentSession(db: Db, hash: string) {
  return direct(db, (d) =>
    d
      .prepare(`SELECT "hash", "chainId", "settlement", "payer", "key", "spendCap", "expiry" FROM "PaymentSession" WHERE "hash" = ?`)
      .get(hash) as SessionRow | undefined,
  );
}

/** What a spending session's receipts hold, except void and failed ones (they cost nothing). */
export function sessionSpent(db: Db, sessionHash: string): Promise<bigint> {
  return direct(db, (d) =>
    sum(
      d
        .prepare(`SELECT "total", "maxTotal", "status" FROM "Receipt" WHERE "sessionHash" = ? AND "status" NOT IN ('void', 'failed')`)
        .raw()
        .all(sessionHash),
    ),
  );
}

/** What a payer's receipts not yet settled, failed or voided hold: their balance on chain does not show it yet. */
export function pendingHolds(db: Db, chain: { chainId: number; settlement: string }, payer: string): Promise<bigint> {
  return direct(db, (d) =>
    sum(
      d
        .prepare(
          `SELECT "total", "maxTotal", "status" FROM "Receipt"
           WHERE "payer" = ? AND "status" IN (${OPEN_LIST}) AND "chainId" = ? AND "settlement" = ?`,
        )
        .raw()
        .all(payer, chain.chainId, chain.settlement),
    ),
  );
}

/**
 * In one transaction: the conversation (created on first use, else checked to be `owner`'s with this app,
 * and touched), the user's message, and the receipt (status "answering") when the app is paid.
 * Returns the receipt's id.
 */
export function storeQuestion(db: Db, question: QuestionRecord, receipt: NewReceipt | null): Promise<string | null> {
  return direct(db, (d) =>
    d.sqlite
      .transaction(() => {
        const now = sqliteDate(new Date());
        const conversation = d
          .prepare(
            `INSERT INTO "Conversation" ("id", "owner", "appId", "title", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT ("id") DO UPDATE SET "updatedAt" = excluded."updatedAt" RETURNING "owner", "appId"`,
          )
          .get(question.conversationId, question.owner, question.appId, question.title, now, now) as { owner: string; appId: string };
        if (conversation.owner !== question.owner || conversation.appId !== question.appId) {
          throw new ChatError("forbidden", "sign_in", "This conversation belongs to another wallet or app.");
        }
        if (question.userMessage) {
          try {
            d.prepare(
              `INSERT INTO "ChatMessage" ("id", "conversationId", "role", "text", "status", "createdAt") VALUES (?, ?, 'user', ?, 'complete', ?)`,
            ).run(question.userMessage.id, question.conversationId, question.userMessage.text, now);
          } catch (error) {
            if (isDirectUniqueViolation(error)) throw new ChatError("conflict", "app_unavailable", "This message was already sent.");
            throw error;
          }
        }
        if (!receipt) return null;
        const id = newId();
        try {
          d.prepare(
            `INSERT INTO "Receipt" ("id", "chainId", "settlement", "payer", "nonce", "deadline", "sessionHash", "slotsJson", "maxAmountsJson",
               "maxTotal", "signature", "status", "appId", "conversationId", "createdAt", "updatedAt")
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'answering', ?, ?, ?, ?)`,
          ).run(
            id,
            receipt.chainId,
            receipt.settlement,
            receipt.payer,
            receipt.nonce,
            receipt.deadline,
            receipt.sessionHash,
            receipt.slotsJson,
            receipt.maxAmountsJson,
            receipt.maxTotal,
            receipt.signature,
            question.appId,
            question.conversationId,
            now,
            now,
          );
        } catch (error) {
          if (isDirectUniqueViolation(error)) throw new ChatError("conflict", "nonce_used", "This receipt number was already used. Send again.");
          throw error;
        }
        return id;
      })
      .immediate(),
  );
}

export interface AnswerRecord {
  id: string;
  conversationId: string;
  text: string;
  status: "complete" | "stopped";
  sourcesJson: string;
  receiptId: string | null;
}

function insertAnswer(d: Direct, answer: AnswerRecord, now: string) {
  d.prepare(
    `INSERT INTO "ChatMessage" ("id", "conversationId", "role", "text", "status", "sourcesJson", "receiptId", "createdAt")
     VALUES (?, ?, 'assistant', ?, ?, ?, ?, ?)`,
  ).run(answer.id, answer.conversationId, answer.text, answer.status, answer.sourcesJson, answer.receiptId, now);
}

/**
 * In one transaction: the receipt's charges fixed (answering → pending) and the answer stored.
 * Throws, storing nothing, when the receipt is no longer "answering" (it was voided meanwhile).
 */
export function storeAnswer(db: Db, answer: AnswerRecord, charges: { amountsJson: string; total: string } | null): Promise<void> {
  return direct(db, (d) =>
    d.sqlite
      .transaction(() => {
        const now = sqliteDate(new Date());
        if (answer.receiptId && charges) {
          const { changes } = d
            .prepare(
              `UPDATE "Receipt" SET "status" = 'pending', "amountsJson" = ?, "total" = ?, "updatedAt" = ? WHERE "id" = ? AND "status" = 'answering'`,
            )
            .run(charges.amountsJson, charges.total, now, answer.receiptId);
          if (changes === 0) throw new Error("the receipt was voided while the answer was written");
        }
        insertAnswer(d, answer, now);
      })
      .immediate(),
  );
}

/** In one transaction: the receipt voided (if still answering) and, when the user stopped it, the partial answer. */
export function voidReceipt(db: Db, receiptId: string | null, reason: string, stopped: AnswerRecord | null): Promise<void> {
  return direct(db, (d) =>
    d.sqlite
      .transaction(() => {
        const now = sqliteDate(new Date());
        if (receiptId) {
          d.prepare(`UPDATE "Receipt" SET "status" = 'void', "failureReason" = ?, "updatedAt" = ? WHERE "id" = ? AND "status" = 'answering'`).run(
            reason.slice(0, 300),
            now,
            receiptId,
          );
        }
        if (stopped) insertAnswer(d, stopped, now);
      })
      .immediate(),
  );
}

/** File names of documents by id. */
export async function documentNames(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await direct(db, (d) =>
    d.prepare(`SELECT "id", "filename" FROM "Document" WHERE "id" IN (SELECT "value" FROM json_each(?))`).raw().all(JSON.stringify(ids)),
  );
  return new Map(rows as [string, string][]);
}
