// API keys of the OpenAI-compatible API. A key is a random secret shown once; the database keeps its
// SHA-256 only. Each key pays through a spending session of its own: the server generates the session
// key and keeps its private key sealed (AES-256-GCM, bound to the key's id), and the owner's wallet signs
// the EIP-712 Session for it with expiry = the key's expiry and spendCap = what the owner's account had
// spent when the key was made plus the key's total cap (the contract caps the account's whole charged
// total, over all its sessions). So what the server can ever spend of the owner's prepaid balance through
// a key is at most that cap, and the contract enforces it too. Revoking a key revokes its session.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Db } from "@/lib/db-client";
import { decryptString, encryptString } from "@/lib/crypto";
import { LIMITS } from "@/lib/protocol";
import { readAccount } from "@/lib/chat/balance";
import type { ChainContext } from "@/lib/chat/charges";
import { MAX_SESSION_SECONDS, MIN_SESSION_SECONDS, registerSession, revokeSession } from "@/lib/chat/sessions";
import { newId, sessionSpendWindows, type SessionSpend } from "@/lib/chat/store";
import { ApiError } from "./errors";

export const API_KEY_PREFIX = "kip_";
const SECRET_PATTERN = /^kip_[A-Za-z0-9_-]{43}$/;
/** Keys per wallet that are neither revoked nor expired. */
export const MAX_LIVE_KEYS = 20;
/** The dashboard warns when a key has used this share of a cap. */
export const CAP_ALERT_RATIO = 0.8;

export function sessionKeyAad(apiKeyId: string): string {
  return `kip-api-session-key:${apiKeyId}`;
}

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export interface NewKeyInput {
  name: string;
  dailyCap: string;
  monthlyCap: string;
  totalCap: string;
  /** unix seconds */
  expiresAt: number;
  allowedApps: string[];
}

/** The Session the owner's wallet signs for a key (decimal strings, as the EIP-712 message takes them). */
export interface KeySession {
  payer: Address;
  key: Address;
  operator: Address;
  spendCap: string;
  expiry: string;
  nonce: string;
}

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  dailyCap: string;
  monthlyCap: string;
  totalCap: string;
  expiresAt: number;
  allowedApps: string[];
  /** pending: the wallet has not signed its session yet (the key cannot be used until it has). */
  status: "pending" | "active" | "revoked" | "expired";
  revokedAt: number | null;
  lastUsedAt: string | null;
  createdAt: string;
  usage: { queries: number; total: string; today: string; month: string };
  /** Caps at or past CAP_ALERT_RATIO of their amount. */
  alerts: ("daily" | "monthly" | "total")[];
  /** What the wallet signs to activate it (pending keys only). */
  session: KeySession | null;
}

type KeyRow = Awaited<ReturnType<Db["apiKey"]["findUniqueOrThrow"]>>;

function keySession(row: KeyRow, operator: Address): KeySession {
  return {
    payer: getAddress(row.owner),
    key: getAddress(row.sessionKeyAddress),
    operator,
    spendCap: row.spendCap,
    expiry: String(row.expiresAt),
    nonce: row.sessionNonce,
  };
}

function statusOf(row: KeyRow, now: number): KeyView["status"] {
  if (row.revokedAt !== null) return "revoked";
  if (row.expiresAt <= now) return "expired";
  return row.sessionHash ? "active" : "pending";
}

function alertsOf(row: Pick<KeyRow, "dailyCap" | "monthlyCap" | "totalCap">, spend: SessionSpend): KeyView["alerts"] {
  const near = (used: bigint, cap: string) => used * 10n >= BigInt(cap) * BigInt(Math.round(CAP_ALERT_RATIO * 10));
  const alerts: KeyView["alerts"] = [];
  if (near(spend.today, row.dailyCap)) alerts.push("daily");
  if (near(spend.month, row.monthlyCap)) alerts.push("monthly");
  if (near(spend.total, row.totalCap)) alerts.push("total");
  return alerts;
}

const NO_SPEND: SessionSpend = { queries: 0, total: 0n, today: 0n, month: 0n };

function viewOf(row: KeyRow, spend: SessionSpend, operator: Address, now: number): KeyView {
  const status = statusOf(row, now);
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    dailyCap: row.dailyCap,
    monthlyCap: row.monthlyCap,
    totalCap: row.totalCap,
    expiresAt: row.expiresAt,
    allowedApps: JSON.parse(row.allowedAppsJson) as string[],
    status,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    usage: { queries: spend.queries, total: spend.total.toString(), today: spend.today.toString(), month: spend.month.toString() },
    alerts: alertsOf(row, spend),
    session: status === "pending" ? keySession(row, operator) : null,
  };
}

/** Creates a key (pending until the wallet signs its session). The secret is returned here only. */
export async function createApiKey(
  db: Db,
  chain: ChainContext,
  owner: Address,
  input: NewKeyInput,
  encryptionKey: string,
  now = Math.floor(Date.now() / 1000),
): Promise<{ secret: string; key: KeyView }> {
  const caps = [input.dailyCap, input.monthlyCap, input.totalCap].map(BigInt);
  if (caps.some((cap) => cap <= 0n || cap > LIMITS.spendCap)) throw new ApiError("bad_request", "invalid_value", "Every cap must be above 0.", "caps");
  if (input.expiresAt < now + MIN_SESSION_SECONDS || input.expiresAt > now + MAX_SESSION_SECONDS) {
    throw new ApiError("bad_request", "invalid_value", "A key must expire between 10 minutes and 90 days from now.", "expiresAt");
  }
  const live = await db.apiKey.count({ where: { owner: getAddress(owner), revokedAt: null, expiresAt: { gt: now } } });
  if (live >= MAX_LIVE_KEYS) throw new ApiError("conflict", "too_many_keys", `A wallet can hold at most ${MAX_LIVE_KEYS} live keys. Revoke one first.`);
  const { committed } = await readAccount(db, chain, owner);
  const spendCap = committed + BigInt(input.totalCap);
  if (spendCap > LIMITS.spendCap) throw new ApiError("bad_request", "invalid_value", "This total cap is more than the settlement contract can count for this wallet.", "caps");
  const id = newId();
  const secret = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  const privateKey = generatePrivateKey();
  const row = await db.apiKey.create({
    data: {
      id,
      owner: getAddress(owner),
      name: input.name,
      prefix: secret.slice(0, 10),
      secretHash: hashSecret(secret),
      dailyCap: input.dailyCap,
      monthlyCap: input.monthlyCap,
      totalCap: input.totalCap,
      spendCap: spendCap.toString(),
      expiresAt: input.expiresAt,
      allowedAppsJson: JSON.stringify([...new Set(input.allowedApps)]),
      sessionKeyAddress: privateKeyToAccount(privateKey).address,
      sessionKeyEncrypted: encryptString(privateKey, encryptionKey, sessionKeyAad(id)),
      // A 64-bit random nonce: the Session's hash is unique to this key.
      sessionNonce: randomBytes(8).readBigUInt64BE().toString(),
    },
  });
  return { secret, key: viewOf(row, NO_SPEND, chain.operator, now) };
}

async function ownKey(db: Db, owner: Address, id: string): Promise<KeyRow> {
  const row = await db.apiKey.findUnique({ where: { id } });
  if (!row || !isAddressEqual(row.owner as Address, owner)) throw new ApiError("not_found", "key_not_found", "There is no such API key of this wallet.");
  return row;
}

/** Registers the wallet's signature of the key's Session: the key can be used from then on. */
export async function activateApiKey(db: Db, chain: ChainContext, owner: Address, id: string, signature: Hex, now = Math.floor(Date.now() / 1000)): Promise<KeyView> {
  const row = await ownKey(db, owner, id);
  if (row.revokedAt !== null) throw new ApiError("conflict", "key_revoked", "This key was revoked.");
  if (row.sessionHash) return viewOf(row, await sessionSpendWindows(db, row.sessionHash), chain.operator, now);
  const session = keySession(row, chain.operator);
  const { hash } = await registerSession(db, chain, owner, { ...session, signature }, now);
  const updated = await db.apiKey.update({ where: { id }, data: { sessionHash: hash } });
  return viewOf(updated, NO_SPEND, chain.operator, now);
}

/** Revokes a key and its spending session (idempotent). Answers admitted before still settle. */
export async function revokeApiKey(db: Db, owner: Address, id: string, now = Math.floor(Date.now() / 1000)): Promise<void> {
  const row = await ownKey(db, owner, id);
  if (row.revokedAt === null) await db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: now } });
  if (row.sessionHash) await revokeSession(db, owner, row.sessionHash, now);
}

/** The wallet's keys, newest first, with their usage. */
export async function listApiKeys(db: Db, chain: Pick<ChainContext, "operator">, owner: Address, now = Math.floor(Date.now() / 1000)): Promise<KeyView[]> {
  const rows = await db.apiKey.findMany({ where: { owner: getAddress(owner) }, orderBy: { createdAt: "desc" }, take: 100 });
  const spends = await Promise.all(rows.map((row) => (row.sessionHash ? sessionSpendWindows(db, row.sessionHash) : NO_SPEND)));
  return rows.map((row, i) => viewOf(row, spends[i], chain.operator, now));
}

export interface AuthenticatedKey {
  id: string;
  owner: Address;
  sessionHash: Hex;
  dailyCap: bigint;
  monthlyCap: bigint;
  totalCap: bigint;
  allowedApps: string[];
  /** The session key's private key, unsealed for this request only. */
  sessionPrivateKey: () => Hex;
}

const invalidKey = (message: string) => new ApiError("unauthorized", "invalid_api_key", message);

/** The key of a request's `Authorization: Bearer kip_…` header, if it may be used now; else 401. */
export async function authenticateApiKey(db: Db, authorization: string | null, encryptionKey: string, now = Math.floor(Date.now() / 1000)): Promise<AuthenticatedKey> {
  const secret = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!secret) throw invalidKey("Send your API key as 'Authorization: Bearer kip_…'. Create one in the dashboard.");
  if (!SECRET_PATTERN.test(secret)) throw invalidKey("Incorrect API key provided.");
  const hash = hashSecret(secret);
  const row = await db.apiKey.findUnique({ where: { secretHash: hash } });
  // The lookup is by hash; the comparison of what was found is constant-time all the same.
  if (!row || !timingSafeEqual(Buffer.from(row.secretHash, "hex"), Buffer.from(hash, "hex"))) throw invalidKey("Incorrect API key provided.");
  if (row.revokedAt !== null) throw invalidKey("This API key was revoked.");
  if (row.expiresAt <= now) throw invalidKey("This API key has expired. Create a new one in the dashboard.");
  if (!row.sessionHash) throw invalidKey("This API key is not active yet: sign its spending session in the dashboard.");
  return {
    id: row.id,
    owner: getAddress(row.owner),
    sessionHash: row.sessionHash as Hex,
    dailyCap: BigInt(row.dailyCap),
    monthlyCap: BigInt(row.monthlyCap),
    totalCap: BigInt(row.totalCap),
    allowedApps: JSON.parse(row.allowedAppsJson) as string[],
    sessionPrivateKey: () => decryptString(row.sessionKeyEncrypted, encryptionKey, sessionKeyAad(row.id)) as Hex,
  };
}

/** Records when the key was last used (shown in the dashboard). */
export async function touchApiKey(db: Db, id: string): Promise<void> {
  await db.apiKey.update({ where: { id }, data: { lastUsedAt: new Date() } });
}
