import "server-only";
// Server-side sessions. The httpOnly cookie holds a random 256-bit token; the database keeps its HMAC
// (AuthSession.id), the wallet, and the session's limits: an idle limit (SESSION_IDLE_SECONDS since last
// use) and an absolute one (SESSION_MAX_SECONDS since sign-in). Logout revokes the row, so a copy of the
// cookie taken before stops working at once, for every route (paid chat included); "sign out everywhere"
// revokes every session of the wallet. Tokens rotate (SESSION_ROTATE_SECONDS): the session route hands
// out a new token in the same family, and the old one stays valid for ROTATION_GRACE_MS only.
import { createHmac, randomBytes } from "node:crypto";
import { cookies } from "next/headers";
import { cache } from "react";
import type { Address } from "viem";
import { getDb } from "@/lib/db";
import { Prisma } from "@/lib/generated/prisma/client";
import { AppError } from "@/lib/errors";
import { serverEnv, type ServerEnv } from "@/lib/env";
import { SESSION_COOKIE } from "./cookie";

export { SESSION_COOKIE };
/** A replaced token keeps working this long, for requests that were already on their way. */
export const ROTATION_GRACE_MS = 60_000;
/** lastSeenAt (and so the idle limit) is moved at most this often, to keep reads from writing. */
const TOUCH_EVERY_MS = 60_000;

export type SignedInSession = { address: Address; chainId: number };

export type SessionRow = { id: string; familyId: string; address: string; chainId: number; createdAt: Date; lastSeenAt: Date; idleExpiresAt: Date; expiresAt: Date; revokedAt: Date | null };

function tokenHash(token: string, env: ServerEnv = serverEnv()): string {
  return createHmac("sha256", env.SESSION_SECRET).update(token).digest("hex");
}

function cookieOptions(expires: Date, now: Date, env: ServerEnv = serverEnv()) {
  const maxAge = Math.max(0, Math.floor((expires.getTime() - now.getTime()) / 1000));
  return { httpOnly: true, sameSite: "lax" as const, secure: new URL(env.APP_URL).protocol === "https:", path: "/", maxAge };
}

async function sessionToken(): Promise<string | null> {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  return token && /^[A-Za-z0-9_-]{43}$/.test(token) ? token : null;
}

/** The AuthSession id behind the request's cookie (the token's HMAC), or null without a well-formed one. */
export async function requestSessionId(): Promise<string | null> {
  const token = await sessionToken();
  return token ? tokenHash(token) : null;
}

/**
 * The columns of the AuthSession row `id` if it is live at `now`: not revoked, within both limits, on this
 * server's chain. A query of no rows otherwise. One definition of a live session, for liveSession and for
 * statements that read the session along with their own work (the chat's, lib/chat/server.ts).
 */
export function liveSessionQuery(id: string, now: Date): Prisma.Sql {
  const at = now.toISOString();
  return Prisma.sql`SELECT "id", "familyId", "address", "chainId", "createdAt", "lastSeenAt", "idleExpiresAt", "expiresAt", "revokedAt"
    FROM "AuthSession" WHERE "id" = ${id} AND "revokedAt" IS NULL AND "chainId" = ${serverEnv().CHAIN_ID}::int
      AND "idleExpiresAt" > (${at}::timestamptz AT TIME ZONE 'UTC') AND "expiresAt" > (${at}::timestamptz AT TIME ZONE 'UTC')`;
}

/** The session row behind the request's cookie, if it is live (liveSessionQuery). */
async function liveSession(now: Date): Promise<SessionRow | null> {
  const id = await requestSessionId();
  if (!id) return null;
  const [row] = await getDb().$queryRaw<SessionRow[]>`${liveSessionQuery(id, now)}`;
  return row ?? null;
}

/**
 * The signed-in wallet, or null. Using a session moves its idle limit (at most once a minute). Read once
 * per server render (React's cache): the root layout and the page both ask.
 */
export const currentSession = cache(readCurrentSession);

async function readCurrentSession(now: Date = new Date()): Promise<SignedInSession | null> {
  const row = await liveSession(now);
  if (!row) return null;
  await touchSession(row, now);
  return { address: row.address as Address, chainId: row.chainId };
}

/** After a live session row was read: its idle limit moves on, at most once a minute (a second statement only then). */
export async function touchSession(row: SessionRow, now: Date): Promise<void> {
  if (now.getTime() - row.lastSeenAt.getTime() > TOUCH_EVERY_MS && row.idleExpiresAt.getTime() - row.lastSeenAt.getTime() > ROTATION_GRACE_MS) {
    const env = serverEnv();
    const idle = new Date(Math.min(now.getTime() + env.SESSION_IDLE_SECONDS * 1000, row.expiresAt.getTime()));
    // Conditional: a token rotated meanwhile keeps its short grace.
    await getDb().authSession.updateMany({ where: { id: row.id, revokedAt: null, idleExpiresAt: { gt: new Date(now.getTime() + ROTATION_GRACE_MS) } }, data: { lastSeenAt: now, idleExpiresAt: idle } });
  }
}

/** For route handlers: the signed-in wallet, or a 401 AppError. */
export async function requireSession(): Promise<SignedInSession> {
  const session = await currentSession();
  if (!session) throw new AppError("unauthorized", "Sign in with your wallet first.");
  return session;
}

async function issueToken(data: { familyId: string; address: string; chainId: number; expiresAt: Date }, now: Date): Promise<void> {
  const env = serverEnv();
  const token = randomBytes(32).toString("base64url");
  const idleExpiresAt = new Date(Math.min(now.getTime() + env.SESSION_IDLE_SECONDS * 1000, data.expiresAt.getTime()));
  await getDb().authSession.create({ data: { id: tokenHash(token, env), ...data, createdAt: now, lastSeenAt: now, idleExpiresAt } });
  (await cookies()).set(SESSION_COOKIE, token, cookieOptions(data.expiresAt, now, env));
}

/** Start a new session (a new family) for a verified sign-in, revoking the one this browser had. */
export async function startSession(signedIn: SignedInSession, now: Date = new Date()): Promise<void> {
  const previous = await liveSession(now);
  if (previous) await revokeFamily(previous.familyId, now);
  const env = serverEnv();
  await issueToken(
    { familyId: randomBytes(16).toString("hex"), address: signedIn.address, chainId: signedIn.chainId, expiresAt: new Date(now.getTime() + env.SESSION_MAX_SECONDS * 1000) },
    now,
  );
}

/**
 * Rotate the request's token when it is older than SESSION_ROTATE_SECONDS (route handlers only: it sets a
 * cookie). The old token keeps working for ROTATION_GRACE_MS.
 */
export async function rotateSessionIfDue(now: Date = new Date()): Promise<void> {
  const row = await liveSession(now);
  if (!row || now.getTime() - row.createdAt.getTime() < serverEnv().SESSION_ROTATE_SECONDS * 1000) return;
  const grace = new Date(now.getTime() + ROTATION_GRACE_MS);
  // Only the first of two racing rotations wins; the other keeps the cookie it has (still valid for now).
  const { count } = await getDb().authSession.updateMany({ where: { id: row.id, revokedAt: null, idleExpiresAt: { gt: grace } }, data: { idleExpiresAt: grace } });
  if (count === 1) await issueToken({ familyId: row.familyId, address: row.address, chainId: row.chainId, expiresAt: row.expiresAt }, now);
}

async function revokeFamily(familyId: string, now: Date): Promise<void> {
  await getDb().authSession.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: now } });
}

/** Logout: revoke this browser's session (every token of its family) and clear the cookie. Idempotent. */
export async function endSession(now: Date = new Date()): Promise<void> {
  const token = await sessionToken();
  if (token) {
    const row = await getDb().authSession.findUnique({ where: { id: tokenHash(token) }, select: { familyId: true } });
    if (row) await revokeFamily(row.familyId, now);
  }
  (await cookies()).delete(SESSION_COOKIE);
}

/** Sign out everywhere: revoke every session of the signed-in wallet. Returns how many were live. */
export async function endAllSessions(now: Date = new Date()): Promise<number> {
  const session = await requireSession();
  const { count } = await getDb().authSession.updateMany({ where: { address: session.address, revokedAt: null, expiresAt: { gt: now } }, data: { revokedAt: now } });
  (await cookies()).delete(SESSION_COOKIE);
  // Housekeeping: sessions past their absolute limit are noise.
  await getDb().authSession.deleteMany({ where: { expiresAt: { lt: new Date(now.getTime() - 24 * 3600 * 1000) } } });
  return count;
}
