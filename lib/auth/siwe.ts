import "server-only";
// Sign-In with Ethereum (EIP-4361) on the server, with viem's siwe utilities.
//
// Order of checks in verifySignIn: the message's fields (domain, uri, chain, times, nonce format), then
// the signature, then the nonce is consumed, then the account is recorded. The nonce is consumed last
// so that a forged request naming someone else's nonce cannot burn it; consumption itself is a single
// conditional UPDATE, so two requests racing with one signed message cannot both succeed. A nonce is bound
// to the client that fetched it (an httpOnly cookie set with it), and accepted only from that client.
//
// Signature check: an EOA signature is verified locally by recovering the signer (no RPC needed, so
// sign-in keeps working while the node is down). Only when that does not match do we ask the chain,
// through viem's verifySiweMessage, which understands contract wallets (ERC-1271, and ERC-6492 for
// wallets not deployed yet). If the chain cannot be reached then, the answer is 502, not a guess.
import { createHmac, randomBytes } from "node:crypto";
import { getAddress, verifyMessage, type Address, type Hex } from "viem";
import { parseSiweMessage, validateSiweMessage, verifySiweMessage, type SiweMessage } from "viem/siwe";
import type { SignedInSession } from "@/lib/auth/session";
import { serverPublicClient } from "@/lib/chain/server-client";
import { getDb } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { serverEnv } from "@/lib/env";

export const NONCE_TTL_MS = 10 * 60 * 1000;
/** How far in the future issuedAt / notBefore may be, for clocks that disagree a little. */
export const CLOCK_SKEW_MS = 60 * 1000;

/** The httpOnly cookie naming the client that asked for a nonce; only that client may sign in with it. */
export const CLIENT_BINDING_COOKIE = "kip_siwe_client";

/** A new client binding token (set as CLIENT_BINDING_COOKIE), or the request's own when it has a valid one. */
export function clientBinding(existing: string | undefined): string {
  return existing && /^[A-Za-z0-9_-]{22}$/.test(existing) ? existing : randomBytes(16).toString("base64url");
}

function bindingHash(binding: string): string {
  return createHmac("sha256", serverEnv().SESSION_SECRET).update(`siwe-client:${binding}`).digest("hex");
}

/** A fresh random 128-bit nonce (hex) for the client holding `binding`, for single use within NONCE_TTL_MS. */
export async function issueNonce(binding: string, now: Date = new Date()): Promise<string> {
  const nonce = randomBytes(16).toString("hex");
  const db = getDb();
  await db.authNonce.create({ data: { nonce, clientHash: bindingHash(binding), expiresAt: new Date(now.getTime() + NONCE_TTL_MS) } });
  // Housekeeping: nonces that can no longer be used are only noise.
  await db.authNonce.deleteMany({ where: { expiresAt: { lt: new Date(now.getTime() - NONCE_TTL_MS) } } });
  return nonce;
}

/**
 * Mark a nonce used. True only for the one caller that used an issued, unexpired, unused nonce, from the
 * client it was issued to (a nonce fetched by A is useless to C, who cannot read A's httpOnly cookie).
 */
export async function consumeNonce(nonce: string, binding: string | undefined, now: Date = new Date()): Promise<boolean> {
  if (!binding) return false;
  const { count } = await getDb().authNonce.updateMany({
    where: { nonce, clientHash: bindingHash(binding), usedAt: null, expiresAt: { gt: now } },
    data: { usedAt: now },
  });
  return count === 1;
}

/** Whether `nonce` was issued to this client and is still unused and fresh (nothing is changed). */
export async function nonceIsOpen(nonce: string, binding: string | undefined, now: Date = new Date()): Promise<boolean> {
  if (!binding) return false;
  const open = await getDb().authNonce.count({ where: { nonce, clientHash: bindingHash(binding), usedAt: null, expiresAt: { gt: now } } });
  return open === 1;
}

type Expected = { appUrl: string; chainId: number; now: Date };

const reject = (message: string) => new AppError("unauthorized", message);

/**
 * Check the fields of a parsed message against this app. Pure; throws AppError on the first problem.
 * Returns the message with its required fields known to be present.
 */
export function checkSiweFields(parsed: Partial<SiweMessage>, { appUrl, chainId, now }: Expected): SiweMessage {
  const { address, domain, uri, nonce, version } = parsed;
  if (!address || !domain || !uri || !nonce || parsed.chainId === undefined || !version) {
    throw new AppError("bad_request", "This is not a Sign-In with Ethereum (EIP-4361) message.");
  }
  const app = new URL(appUrl);
  if (domain !== app.host) {
    throw reject(`The message is for "${domain}", but this app is "${app.host}".`);
  }
  let uriOrigin: string;
  try {
    uriOrigin = new URL(uri).origin;
  } catch {
    throw new AppError("bad_request", "The message's URI is not a valid URL.");
  }
  if (uriOrigin !== app.origin) {
    throw reject(`The message's URI is on "${uriOrigin}", but this app is "${app.origin}".`);
  }
  if (parsed.chainId !== chainId) {
    throw reject(`The message is for chain ${parsed.chainId}, but this app runs on chain ${chainId}.`);
  }
  if (!parsed.issuedAt || Number.isNaN(parsed.issuedAt.getTime())) {
    throw new AppError("bad_request", "The message has no valid Issued At time.");
  }
  if (parsed.issuedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw reject("The message was issued in the future; check your clock.");
  }
  if (parsed.expirationTime && !(parsed.expirationTime.getTime() > now.getTime())) {
    throw reject("The sign-in message has expired; sign in again.");
  }
  if (parsed.notBefore && parsed.notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw reject("The sign-in message is not valid yet.");
  }
  // viem's own rules as a final net: nonce format, version "1", address format, expiry. (notBefore was
  // checked above with the clock skew allowance, which viem does not have.)
  if (!validateSiweMessage({ message: { ...parsed, notBefore: undefined }, domain: app.host, time: now })) {
    throw new AppError("bad_request", "The sign-in message is malformed.");
  }
  return parsed as SiweMessage;
}

async function signatureIsValid(message: string, address: Address, signature: Hex): Promise<boolean> {
  const recoveredMatches = await verifyMessage({ address, message, signature }).catch(() => false);
  if (recoveredMatches) return true;
  try {
    return await verifySiweMessage(serverPublicClient(), { message, signature, address });
  } catch (error) {
    throw new AppError(
      "upstream_unavailable",
      "The signature does not match the address, and the chain could not be reached to check for a contract wallet.",
      { cause: error },
    );
  }
}

/** Verify a signed sign-in message and record the account. Throws AppError (400/401/502). */
export async function verifySignIn(
  { message, signature, binding }: { message: string; signature: Hex; binding: string | undefined },
  now: Date = new Date(),
): Promise<SignedInSession> {
  const env = serverEnv();
  const fields = checkSiweFields(parseSiweMessage(message), { appUrl: env.APP_URL, chainId: env.CHAIN_ID, now });
  const address = getAddress(fields.address);

  // The nonce first: a signature that is not the address's own is checked on chain (a contract wallet),
  // which only a client holding an open nonce of its own may make this server do.
  if (!(await nonceIsOpen(fields.nonce, binding, now))) {
    throw reject("The sign-in nonce is unknown, expired, already used or was issued to another browser; sign in again.");
  }
  if (!(await signatureIsValid(message, address, signature))) {
    throw reject("The signature does not match the message and address.");
  }
  if (!(await consumeNonce(fields.nonce, binding, now))) {
    throw reject("The sign-in nonce is unknown, expired, already used or was issued to another browser; sign in again.");
  }

  await getDb().account.upsert({
    where: { address },
    create: { address, lastSignInAt: now },
    update: { lastSignInAt: now },
  });
  return { address, chainId: fields.chainId };
}
