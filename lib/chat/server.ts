import "server-only";
// Wiring for the chat routes: the chain context of the configured deployment and the rate limits.
import type { Address } from "viem";
import { readDeployment } from "@/lib/chain/deployment";
import { serverPublicClient } from "@/lib/chain/server-client";
import type { Db } from "@/lib/db-client";
import { serverEnv } from "@/lib/env";
import type { ChainContext } from "./charges";
import { ChatError } from "./errors";
import { addressBucket } from "@/lib/http/client-address";
import { COUNTED, countingCtes, takeRateLimits, verdictOf, type LimitKey, type LimitVerdict } from "@/lib/http/rate-limit";
import { liveSessionQuery, requestSessionId, touchSession, type SessionRow, type SignedInSession } from "@/lib/auth/session";
import { Prisma } from "@/lib/generated/prisma/client";
import type { AdmissionRead, AdmissionReading } from "./admission";
import { admissionStateOf } from "./store";

export function chatChain(): ChainContext {
  const env = serverEnv();
  let deployment;
  try {
    deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
  } catch {
    throw new ChatError("upstream_unavailable", "chain_unavailable", `The contracts are not deployed on chain ${env.CHAIN_ID}.`);
  }
  return {
    chainId: env.CHAIN_ID,
    assets: deployment.assets as Address,
    settlement: deployment.settlement as Address,
    operator: deployment.operator as Address,
    client: serverPublicClient(),
  };
}

/** The AuthSession id of the request's sign-in cookie (what signedInWithinLimits looks up). */
export type SignInCookie = string & { readonly __signInCookie: true };

/** The request's sign-in cookie, or a 401 without one: refused before the request's body is read. */
export async function signInCookie(): Promise<SignInCookie> {
  const id = await requestSessionId();
  if (!id) throw new ChatError("unauthorized", "sign_in", "Sign in with your wallet first.");
  return id as SignInCookie;
}

/**
 * The chat request's signed-in wallet, with the request counted against the wallet's and the client
 * address's limits (shared by every server), in one statement: the session's row (lib/auth/session.ts
 * liveSessionQuery) and the counters (lib/http/rate-limit.ts countingCtes). A request without a live
 * session counts against its address only, and is refused.
 *
 * `admission` (a paid question's admissionReading, lib/chat/admission.ts) is read in the same statement,
 * for the signed-in wallet: a paid message then costs no round trip of its own for its admission's
 * reading. It comes back with the address it was read for, as the session's row spells it: admission
 * uses it only for that payer spelled as receipts name payers (checksummed), else reads for itself.
 */
export async function signedInWithinLimits(
  db: Db,
  id: SignInCookie,
  address: string,
  admission?: AdmissionReading,
  now = new Date(),
): Promise<SignedInSession & { admission?: AdmissionRead }> {
  const env = serverEnv();
  const addressKey = { key: `ip:${addressBucket(address)}`, limit: env.CHAT_RATE_LIMIT_IP };
  // Read only for a live sign-in: a request without one is refused whatever admission would read.
  const admitted = admission
    ? {
        cte: Prisma.sql`, admission AS (SELECT * FROM (${admission.query(Prisma.sql`(SELECT "address" FROM signin)`)}) AS reading WHERE EXISTS (SELECT 1 FROM signin))`,
        column: Prisma.sql`, (SELECT row_to_json(admission) FROM admission) AS admission`,
      }
    : { cte: Prisma.empty, column: Prisma.empty };
  const [row] = await db.$queryRaw<(Partial<SessionRow> & { counted: [string, number, number][]; admission?: Parameters<typeof admissionStateOf>[0] | null })[]>`
    WITH signin AS (${liveSessionQuery(id, now)}),
    ${countingCtes(Prisma.sql`SELECT ${WALLET_PREFIX} || lower("address") FROM signin UNION ALL SELECT ${addressKey.key}`)}${admitted.cte}
    SELECT signin.*, ${COUNTED} AS counted${admitted.column} FROM (SELECT 1) AS one LEFT JOIN signin ON true`;
  if (!row.id) throw new ChatError("unauthorized", "sign_in", "Sign in with your wallet first.");
  const session = row as SessionRow;
  const wallet = { key: `${WALLET_PREFIX}${session.address.toLowerCase()}`, limit: env.CHAT_RATE_LIMIT_WALLET };
  refuseOverLimit(verdictOf(db, [wallet, addressKey], row.counted), wallet);
  await touchSession(session, now);
  const signedIn = { address: session.address as Address, chainId: session.chainId };
  if (!admission || !row.admission) return signedIn;
  return { ...signedIn, admission: { reading: admission, payer: session.address, state: admissionStateOf(row.admission) } };
}

const WALLET_PREFIX = "wallet:";

/** Counts an API request against its key owner's and the client address's limits (shared by every server). */
export async function assertWithinLimits(db: Db, wallet: string, address: string): Promise<void> {
  const env = serverEnv();
  const wallets = { key: `${WALLET_PREFIX}${wallet.toLowerCase()}`, limit: env.CHAT_RATE_LIMIT_WALLET };
  refuseOverLimit(await takeRateLimits(db, [wallets, { key: `ip:${addressBucket(address)}`, limit: env.CHAT_RATE_LIMIT_IP }]), wallets);
}

function refuseOverLimit({ exceeded, retryAfterMs }: LimitVerdict, wallet: LimitKey): void {
  if (!exceeded) return;
  const seconds = Math.ceil(retryAfterMs / 1000);
  const what = exceeded === wallet ? "wallet" : "network address";
  throw new ChatError("too_many_requests", "rate_limited", `Too many messages from this ${what}. Try again in ${seconds} s.`, {
    "Retry-After": String(seconds),
  });
}
