// The chat hot path's reads and writes, through Prisma. Each step that writes several rows is one SQL
// statement (a data-modifying CTE), so a paid message costs few round trips and never leaves half of its
// rows behind. Amounts are decimal strings of up to 256-bit
// values: PostgreSQL sums them as numeric and returns text, read here as bigints.
import crypto from "node:crypto";
import type { Address } from "viem";
import type { Db } from "@/lib/db-client";
import { Prisma } from "@/lib/generated/prisma/client";
import type { IndexVersions } from "@/lib/rag/search";
import { MAX_HISTORY_TURNS } from "@/lib/ai/prompt";
import { ChatError } from "./errors";

/** Receipt statuses that still hold (or may hold) the payer's money. */
export const OPEN_STATUSES = ["answering", "pending", "sending"] as const;

/** A client or an interactive transaction: store functions run in either. */
export type DbOrTx = Db | Prisma.TransactionClient;

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
  /** The account the voucher spends from: `payer` with `operator`. */
  operator: string;
  payer: string;
  /** The account's query number. */
  seq: string;
  issuedAt: number;
  sessionHash: string;
  /** This query's own maxima per slot (JSON decimal strings), their hash, and the account's running maximum. */
  slotsJson: string;
  maxAmountsJson: string;
  charges: string;
  cumulativeMax: string;
  maxTotal: string;
  signature: string;
}

export interface SessionRow {
  hash: string;
  chainId: number;
  settlement: string;
  payer: string;
  key: string;
  operator: string;
  spendCap: string;
  expiry: number;
  revokedAt: number | null;
}

/** A session as admission reads it: also what it was signed as, and how far it has settled. */
export interface AdmissionSession extends SessionRow {
  nonce: string;
  signature: string;
  /** The account seq of this session's newest voucher the chain settled ("0": none yet). */
  settledSeq: string;
  /** Its questions not yet settled, failed or voided. */
  open: number;
}

/** Prisma stores DateTime as UTC timestamps; the database's clock, read as UTC. */
const NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** What a receipt holds of the payer's balance: its fixed total once known, else its maximum. */
export const HELD = Prisma.sql`(CASE WHEN "status" = 'answering' THEN "maxTotal" ELSE COALESCE("total", "maxTotal") END)::numeric`;
/** OPEN_STATUSES as a SQL list. */
export const OPEN = Prisma.join(OPEN_STATUSES.map((s) => Prisma.sql`${s}`));

/**
 * The conversation's messages, oldest first (only its `newest` when given); none when it is not `owner`'s
 * conversation with `appId`.
 */
export async function conversationMessages(db: DbOrTx, q: Pick<QuestionRecord, "conversationId" | "owner" | "appId">, newest?: number): Promise<ConversationMessage[]> {
  const where = { conversationId: q.conversationId, conversation: { owner: q.owner, appId: q.appId } };
  const select = { id: true, role: true, text: true };
  if (newest === undefined) return db.chatMessage.findMany({ where, select, orderBy: { createdAt: "asc" } });
  const rows = await db.chatMessage.findMany({ where, select, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: newest });
  return rows.reverse();
}

export function paymentSession(db: DbOrTx, hash: string): Promise<SessionRow | null> {
  return db.paymentSession.findUnique({
    where: { hash },
    select: { hash: true, chainId: true, settlement: true, payer: true, key: true, operator: true, spendCap: true, expiry: true, revokedAt: true },
  });
}

/** An account's receipts, as admission and the chat page need them: the newest voucher and what is still open. */
export interface AccountReceipts {
  /** The newest voucher admitted for the account (any status: a voided query's voucher still counts), or null. */
  latest: { seq: bigint; cumulativeMax: bigint } | null;
  /** The account's receipts not yet settled, failed or voided: their seq and what each holds. */
  open: { seq: bigint; held: bigint }[];
}

/** The account (payer with operator, on this deployment) whose receipts these are, as SQL conditions. */
function accountWhere(account: AccountSql) {
  return Prisma.sql`"chainId" = ${account.chainId}::int AND "settlement" = ${account.settlement} AND "operator" = ${account.operator} AND "payer" = ${account.payer}`;
}

export interface AccountKey {
  chainId: number;
  settlement: string;
  operator: string;
  /** Checksummed. */
  payer: string;
}

/** An account key whose payer may also be SQL that names the address (a column of the same statement). */
type AccountSql = Omit<AccountKey, "payer"> & { payer: string | Prisma.Sql };

const ACCOUNT_COLUMNS = (account: AccountSql) => Prisma.sql`
  (SELECT json_build_array("seq", "cumulativeMax") FROM "Receipt" WHERE ${accountWhere(account)} AND "seqNumber" IS NOT NULL ORDER BY "seqNumber" DESC LIMIT 1) AS latest,
  (SELECT json_agg(json_build_array("seq", ${HELD}::text)) FROM "Receipt" WHERE ${accountWhere(account)} AND "status" IN (${OPEN})) AS open`;

function accountReceiptsOf(row: { latest: [string, string] | null; open: [string, string][] | null }): AccountReceipts {
  return {
    latest: row.latest ? { seq: BigInt(row.latest[0]), cumulativeMax: BigInt(row.latest[1]) } : null,
    open: (row.open ?? []).map(([seq, held]) => ({ seq: BigInt(seq), held: BigInt(held) })),
  };
}

/** The account's newest voucher and open receipts (one statement). */
export async function accountReceipts(db: DbOrTx, account: AccountKey): Promise<AccountReceipts> {
  const [row] = await db.$queryRaw<{ latest: [string, string] | null; open: [string, string][] | null }[]>`SELECT ${ACCOUNT_COLUMNS(account)}`;
  return accountReceiptsOf(row);
}

export interface AdmissionState extends AccountReceipts {
  session: AdmissionSession | null;
  /** The conversation's newest messages (at most MAX_HISTORY_TURNS, what the model is sent), oldest first. */
  history: ConversationMessage[];
  /** The versions of the datasets asked for, by id: what the answer's retrieval searches. */
  datasetVersions: Map<string, IndexVersions>;
}

export type ConversationMessage = { id: string; role: string; text: string };

/** The raw row of admissionQuery (a statement's columns, or the same as one json object). */
type AdmissionRow = Partial<Omit<AdmissionSession, "open">> & {
  found: boolean;
  sessionOpen: number;
  latest: [string, string] | null;
  open: [string, string][] | null;
  history: ConversationMessage[];
  datasetVersions: [string, number, number][];
};

/**
 * Everything admission checks a voucher against in the database, as one SELECT of one row: the spending
 * session, the account's newest voucher and open receipts, the question's conversation so far (its newest
 * MAX_HISTORY_TURNS messages, all the model is sent of it, so a long conversation costs a message no more
 * than a short one) and the versions of the app's datasets (what its retrieval searches), so a paid question needs
 * no read of its own. The payer is an address, or SQL that names one (the chat's sign-in statement reads
 * it from the signed-in session's row: lib/chat/server.ts). Read it with admissionStateOf.
 */
export function admissionQuery(
  account: AccountSql,
  sessionHash: string,
  conversation: Pick<QuestionRecord, "conversationId" | "appId">,
  datasetIds: readonly string[] = [],
): Prisma.Sql {
  return Prisma.sql`
    SELECT s."hash" IS NOT NULL AS found, s."hash", s."chainId", s."settlement", s."payer", s."key", s."operator", s."spendCap", s."expiry", s."revokedAt",
      s."nonce", s."signature", s."settledSeq",
      (SELECT count(*)::int FROM "Receipt" WHERE "sessionHash" = ${sessionHash} AND "status" IN (${OPEN})) AS "sessionOpen",
      ${ACCOUNT_COLUMNS(account)},
      (SELECT COALESCE(json_agg(json_build_object('id', t."id", 'role', t."role", 'text', t."text") ORDER BY t."createdAt", t."id"), '[]'::json)
        FROM (SELECT m."id", m."role", m."text", m."createdAt"
          FROM "ChatMessage" m JOIN "Conversation" c ON c."id" = m."conversationId"
          WHERE m."conversationId" = ${conversation.conversationId} AND c."owner" = ${account.payer} AND c."appId" = ${conversation.appId}
          ORDER BY m."createdAt" DESC, m."id" DESC LIMIT ${MAX_HISTORY_TURNS}) AS t) AS history,
      (SELECT COALESCE(json_agg(json_build_array(d."listingId", d."indexVersion", d."version")), '[]'::json)
        FROM "Dataset" d WHERE d."listingId" = ANY(${[...datasetIds]}::text[])) AS "datasetVersions"
    FROM (SELECT 1) AS one
    LEFT JOIN "PaymentSession" s ON s."hash" = ${sessionHash}`;
}

/** What admissionQuery read. Its columns are integers, text, booleans and json: the same as a json object. */
export function admissionStateOf(row: AdmissionRow): AdmissionState {
  const session: AdmissionSession | null = row.found
    ? {
        hash: row.hash!,
        chainId: row.chainId!,
        settlement: row.settlement!,
        payer: row.payer!,
        key: row.key!,
        operator: row.operator!,
        spendCap: row.spendCap!,
        expiry: row.expiry!,
        revokedAt: row.revokedAt ?? null,
        nonce: row.nonce!,
        signature: row.signature!,
        settledSeq: row.settledSeq!,
        open: row.sessionOpen,
      }
    : null;
  const datasetVersions = new Map(row.datasetVersions.map(([id, version, datasetVersion]) => [id, { version, datasetVersion }]));
  return { session, ...accountReceiptsOf(row), history: row.history, datasetVersions };
}

/** admissionQuery of `account`, in a statement of its own. */
export async function admissionState(
  db: DbOrTx,
  account: AccountKey,
  sessionHash: string,
  conversation: Pick<QuestionRecord, "conversationId" | "appId">,
  datasetIds: readonly string[] = [],
): Promise<AdmissionState> {
  const [row] = await db.$queryRaw<AdmissionRow[]>`${admissionQuery(account, sessionHash, conversation, datasetIds)}`;
  return admissionStateOf(row);
}

/** What a spending session's receipts hold, except void and failed ones. */
export async function sessionSpent(db: DbOrTx, sessionHash: string): Promise<bigint> {
  const [row] = await db.$queryRaw<{ spent: string }[]>`
    SELECT COALESCE(SUM(${HELD}), 0)::text AS spent FROM "Receipt" WHERE "sessionHash" = ${sessionHash} AND "status" NOT IN ('void', 'failed')`;
  return BigInt(row.spent);
}

let counter = crypto.randomInt(36 ** 4);

/** A collision-resistant id in the shape of Prisma's cuid(): "c", time, counter and random, base 36. */
export function newId(): string {
  counter = (counter + 1) % 36 ** 4;
  const random = crypto.randomBytes(8).readBigUInt64BE().toString(36).padStart(13, "0").slice(0, 12);
  return `c${Date.now().toString(36).padStart(8, "0")}${counter.toString(36).padStart(4, "0")}${random}`;
}

/** A unique constraint failed in a raw statement: the constraint's name is in the driver's message. */
function violates(error: unknown, constraint: string): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && JSON.stringify(error.meta ?? {}).includes(constraint) || String(error).includes(constraint);
}

/**
 * In one statement: the conversation (created on first use, else touched if it is `owner`'s with this
 * app), the user's message, and the receipt (status "answering") when the app is paid; the message only
 * if the receipt was stored. Returns the receipt's id. A receipt refused because another admission took its
 * number first (lib/chat/admission.ts) leaves nothing: a conversation this statement created is removed.
 */
export async function storeQuestion(db: DbOrTx, question: QuestionRecord, receipt: NewReceipt | null): Promise<string | null> {
  const message = question.userMessage;
  const receiptId = receipt ? newId() : null;
  let row: { conversation: bigint; created: boolean; receipt: string | null };
  try {
    [row] = await db.$queryRaw<{ conversation: bigint; created: boolean; receipt: string | null }[]>`
      WITH conversation AS (
        INSERT INTO "Conversation" ("id", "owner", "appId", "title", "createdAt", "updatedAt")
        VALUES (${question.conversationId}, ${question.owner}, ${question.appId}, ${question.title}, ${NOW}, ${NOW})
        ON CONFLICT ("id") DO UPDATE SET "updatedAt" = excluded."updatedAt"
          WHERE "Conversation"."owner" = excluded."owner" AND "Conversation"."appId" = excluded."appId"
        RETURNING "id", (xmax = 0) AS created
      ), receipt AS (
        INSERT INTO "Receipt" ("id", "chainId", "settlement", "operator", "payer", "seq", "issuedAt", "sessionHash", "slotsJson", "maxAmountsJson",
          "charges", "cumulativeMax", "maxTotal", "signature", "status", "appId", "conversationId", "createdAt", "updatedAt")
        SELECT ${receiptId ?? ""}, ${receipt?.chainId ?? 0}::int, ${receipt?.settlement ?? ""}, ${receipt?.operator ?? ""}, ${receipt?.payer ?? ""}, ${receipt?.seq ?? ""},
          ${receipt?.issuedAt ?? 0}::int, ${receipt?.sessionHash ?? ""}, ${receipt?.slotsJson ?? ""}, ${receipt?.maxAmountsJson ?? ""},
          ${receipt?.charges ?? ""}, ${receipt?.cumulativeMax ?? ""}, ${receipt?.maxTotal ?? ""}, ${receipt?.signature ?? ""}, 'answering', ${question.appId}, "id", ${NOW}, ${NOW}
        FROM conversation WHERE ${receipt !== null}::boolean
        ON CONFLICT ("chainId", "settlement", "operator", "payer", "seq") DO NOTHING
        RETURNING "id"
      ), message AS (
        INSERT INTO "ChatMessage" ("id", "conversationId", "role", "text", "status", "createdAt")
        SELECT ${message?.id ?? ""}, "id", 'user', ${message?.text ?? ""}, 'complete', ${NOW} FROM conversation
        WHERE ${message !== undefined}::boolean AND (${receipt === null}::boolean OR EXISTS (SELECT 1 FROM receipt))
        RETURNING "id"
      )
      SELECT (SELECT count(*) FROM conversation) AS conversation, COALESCE((SELECT created FROM conversation), false) AS created,
        (SELECT "id" FROM receipt) AS receipt, (SELECT count(*) FROM message) AS message`;
  } catch (error) {
    // A message id already stored fails the whole statement: nothing of it is written.
    if (violates(error, "ChatMessage_pkey")) throw new ChatError("conflict", "app_unavailable", "This message was already sent.");
    throw error;
  }
  if (Number(row.conversation) === 0) throw new ChatError("forbidden", "sign_in", "This conversation belongs to another wallet or app.");
  if (receipt && row.receipt === null) {
    // Only if nothing else was stored in it meanwhile (a message, or a receipt of another admission).
    if (row.created) {
      await db.$executeRaw`
        DELETE FROM "Conversation" c WHERE c."id" = ${question.conversationId}
          AND NOT EXISTS (SELECT 1 FROM "ChatMessage" m WHERE m."conversationId" = c."id")
          AND NOT EXISTS (SELECT 1 FROM "Receipt" r WHERE r."conversationId" = c."id")`;
    }
    throw new ChatError("conflict", "nonce_used", "This voucher's number was already used. Send again.");
  }
  return receiptId;
}

export interface AnswerRecord {
  id: string;
  conversationId: string;
  text: string;
  status: "complete" | "stopped";
  sourcesJson: string;
  receiptId: string | null;
}

function insertAnswer(answer: AnswerRecord, condition: Prisma.Sql) {
  return Prisma.sql`
    INSERT INTO "ChatMessage" ("id", "conversationId", "role", "text", "status", "sourcesJson", "receiptId", "createdAt")
    SELECT ${answer.id}, ${answer.conversationId}, 'assistant', ${answer.text}, ${answer.status}, ${answer.sourcesJson}, ${answer.receiptId}, ${NOW}
    WHERE ${condition}`;
}

/**
 * In one statement: the receipt's charges fixed (answering → pending) and the answer stored.
 * Throws, storing nothing, when the receipt is no longer "answering" (it was voided meanwhile).
 */
export interface FixedCharges {
  amountsJson: string;
  total: string;
  inputTokens: number;
  outputTokens: number;
  note: string;
  recordHash: string;
  /** [[dataset listing id, version], …] of the passages in context (bound into recordHash) */
  datasetVersionsJson: string;
}

export async function storeAnswer(db: DbOrTx, answer: AnswerRecord, charges: FixedCharges | null): Promise<void> {
  if (!answer.receiptId || !charges) {
    await db.$executeRaw(insertAnswer(answer, Prisma.sql`true`));
    return;
  }
  const stored = await db.$executeRaw`
    WITH fixed AS (
      UPDATE "Receipt" SET "status" = 'pending', "amountsJson" = ${charges.amountsJson}, "total" = ${charges.total},
        "inputTokens" = ${charges.inputTokens}, "outputTokens" = ${charges.outputTokens}, "chargeNote" = ${charges.note.slice(0, 300)},
        "recordHash" = ${charges.recordHash},
        "datasetVersionsJson" = ${charges.datasetVersionsJson}, "updatedAt" = ${NOW}
      WHERE "id" = ${answer.receiptId} AND "status" = 'answering'
      RETURNING "id"
    )
    ${insertAnswer(answer, Prisma.sql`EXISTS (SELECT 1 FROM fixed)`)}`;
  if (stored === 0) throw new Error("the receipt was voided while the answer was written");
}

/** In one statement: the receipt voided (if still answering) and, when the user stopped it, the partial answer. */
export async function voidReceipt(db: DbOrTx, receiptId: string | null, reason: string, stopped: AnswerRecord | null): Promise<void> {
  if (!receiptId) {
    if (stopped) await db.$executeRaw(insertAnswer(stopped, Prisma.sql`true`));
    return;
  }
  const voided = Prisma.sql`
    UPDATE "Receipt" SET "status" = 'void', "failureReason" = ${reason.slice(0, 300)}, "updatedAt" = ${NOW}
    WHERE "id" = ${receiptId} AND "status" = 'answering'`;
  if (!stopped) await db.$executeRaw(voided);
  else await db.$executeRaw`WITH voided AS (${voided} RETURNING "id") ${insertAnswer(stopped, Prisma.sql`true`)}`;
}

export interface SessionSpend {
  /** Queries admitted and not voided or failed. */
  queries: number;
  /** What they hold or have spent: in total, since the start of this UTC day and of this UTC month. */
  total: bigint;
  today: bigint;
  month: bigint;
}

/** What a session's receipts hold or have spent, in total and in this UTC day and month (one statement). */
export async function sessionSpendWindows(db: DbOrTx, sessionHash: string): Promise<SessionSpend> {
  const [row] = await db.$queryRaw<{ queries: bigint; total: string; today: string; month: string }[]>`
    SELECT count(*) AS queries, COALESCE(SUM(${HELD}), 0)::text AS total,
      COALESCE(SUM(${HELD}) FILTER (WHERE "createdAt" >= date_trunc('day', ${NOW})), 0)::text AS today,
      COALESCE(SUM(${HELD}) FILTER (WHERE "createdAt" >= date_trunc('month', ${NOW})), 0)::text AS month
    FROM "Receipt" WHERE "sessionHash" = ${sessionHash} AND "status" NOT IN ('void', 'failed')`;
  return { queries: Number(row.queries), total: BigInt(row.total), today: BigInt(row.today), month: BigInt(row.month) };
}
