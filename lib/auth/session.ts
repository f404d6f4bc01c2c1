import "server-only";
// The signed-in wallet, kept in an encrypted iron-session cookie. The cookie holds only the address and
// the chain it signed in on; everything else about an account is read from the database or the chain.
import { getIronSession, type IronSession, type SessionOptions } from "iron-session";
import { cookies } from "next/headers";
import type { Address } from "viem";
import { AppError } from "@/lib/errors";
import { serverEnv, type ServerEnv } from "@/lib/env";

export const SESSION_COOKIE = "kip_session";
export const SESSION_MAX_AGE_SECONDS = 7 * 24 * 60 * 60;

export type SessionData = { address?: Address; chainId?: number; signedInAt?: number };

export type SignedInSession = { address: Address; chainId: number };

export function sessionOptions(env: ServerEnv = serverEnv()): SessionOptions {
  return {
    cookieName: SESSION_COOKIE,
    password: env.SESSION_SECRET,
    // iron-session sets the cookie's Max-Age to ttl - 60 s, so the seal outlives the cookie.
    ttl: SESSION_MAX_AGE_SECONDS + 60,
    cookieOptions: {
      httpOnly: true,
      sameSite: "lax",
      secure: new URL(env.APP_URL).protocol === "https:",
      path: "/",
    },
  };
}

export async function getSession(): Promise<IronSession<SessionData>> {
  return getIronSession<SessionData>(await cookies(), sessionOptions());
}

/** The signed-in wallet, or null. A session from another chain (CHAIN_ID changed) does not count. */
export async function currentSession(): Promise<SignedInSession | null> {
  const session = await getSession();
  if (!session.address || session.chainId !== serverEnv().CHAIN_ID) return null;
  return { address: session.address, chainId: session.chainId };
}

/** For route handlers: the signed-in wallet, or a 401 AppError. */
export async function requireSession(): Promise<SignedInSession> {
  const session = await currentSession();
  if (!session) throw new AppError("unauthorized", "Sign in with your wallet first.");
  return session;
}

export async function startSession(signedIn: SignedInSession): Promise<void> {
  const session = await getSession();
  session.address = signedIn.address;
  session.chainId = signedIn.chainId;
  session.signedInAt = Date.now();
  await session.save();
}

export async function endSession(): Promise<void> {
  const session = await getSession();
  session.destroy();
}
