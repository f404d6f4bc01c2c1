// Registering a spending session: the wallet's one signature of the EIP-712 Session that lets a
// browser-held key sign vouchers, settled only by this server's operator. Verified here exactly as the
// contract verifies it when the session first settles: an EOA's 65-byte signature in its one accepted
// form, or a deployed wallet's ERC-1271 approval within the contract's gas (lib/protocol/signature.ts).
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import type { Db } from "@/lib/db-client";
import { ChainUnavailableError, hashSession, isSignedByPayer, LIMITS, sessionDigest, type Session } from "@/lib/protocol";
import type { ChainContext } from "./charges";
import { shortError } from "./charges";
import { ChatError } from "./errors";

export const MIN_SESSION_SECONDS = 10 * 60;
export const MAX_SESSION_SECONDS = 90 * 24 * 60 * 60;

export interface SessionInput {
  payer: Address;
  key: Address;
  operator: Address;
  spendCap: string;
  expiry: string;
  nonce: string;
  signature: Hex;
}

export async function registerSession(
  db: Db,
  chain: ChainContext,
  signedIn: Address,
  input: SessionInput,
  now = Math.floor(Date.now() / 1000),
): Promise<{ hash: Hex }> {
  const session: Session = {
    payer: getAddress(input.payer),
    key: getAddress(input.key),
    operator: getAddress(input.operator),
    spendCap: BigInt(input.spendCap),
    expiry: BigInt(input.expiry),
    nonce: BigInt(input.nonce),
  };
  if (!isAddressEqual(session.payer, signedIn)) {
    throw new ChatError("forbidden", "wrong_payer", "A session can only be authorized for the signed-in wallet.");
  }
  if (!isAddressEqual(session.operator, chain.operator)) {
    throw new ChatError("forbidden", "wrong_operator", `This session names operator ${session.operator}; this marketplace settles with ${chain.operator}. Authorize a new session.`);
  }
  if (session.spendCap <= 0n || session.spendCap > LIMITS.spendCap) throw new ChatError("bad_request", "over_cap", "The spending cap must be above 0.");
  if (session.nonce > LIMITS.sessionNonce) throw new ChatError("bad_request", "session_unknown", "The session nonce must fit 64 bits.");
  if (session.expiry < BigInt(now + MIN_SESSION_SECONDS) || session.expiry > BigInt(now + MAX_SESSION_SECONDS)) {
    throw new ChatError("bad_request", "session_expired", "A session must last between 10 minutes and 90 days.");
  }
  // Checked as the contract checks it when the session first settles (lib/protocol/signature.ts): a
  // signature it would refuse is refused here, before any answer is given on it.
  let valid: boolean;
  try {
    valid = await isSignedByPayer(chain.client, session.payer, sessionDigest(chain, session), input.signature, chain.settlement);
  } catch (error) {
    if (!(error instanceof ChainUnavailableError)) throw error;
    throw new ChatError("upstream_unavailable", "chain_unavailable", `The session signature could not be checked (${shortError(error.cause)}).`);
  }
  if (!valid) {
    throw new ChatError(
      "forbidden",
      "bad_signature",
      "The session is not signed by the wallet in a form the settlement contract accepts (a 65-byte signature, or a deployed smart wallet's ERC-1271 approval).",
    );
  }
  const hash = hashSession(session);
  await db.paymentSession.upsert({
    where: { hash },
    update: {},
    create: {
      hash,
      chainId: chain.chainId,
      settlement: chain.settlement,
      payer: session.payer,
      key: session.key,
      operator: session.operator,
      spendCap: session.spendCap.toString(),
      expiry: Number(session.expiry),
      nonce: session.nonce.toString(),
      signature: input.signature,
    },
  });
  return { hash };
}

/**
 * Stops admitting vouchers of the payer's session `hash` (idempotent: the first revocation time stays).
 * Answers admitted before still settle. Returns the revocation time.
 */
export async function revokeSession(db: Db, payer: Address, hash: string, now = Math.floor(Date.now() / 1000)): Promise<number> {
  const session = await db.paymentSession.findUnique({ where: { hash }, select: { payer: true, revokedAt: true } });
  if (!session || !isAddressEqual(session.payer as Address, payer)) {
    throw new ChatError("not_found", "session_unknown", "There is no such spending session of this wallet.");
  }
  if (session.revokedAt !== null) return session.revokedAt;
  await db.paymentSession.updateMany({ where: { hash, revokedAt: null }, data: { revokedAt: now } });
  const stored = await db.paymentSession.findUniqueOrThrow({ where: { hash }, select: { revokedAt: true } });
  return stored.revokedAt!;
}
