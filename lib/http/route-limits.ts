import "server-only";
// Rate limits of the expensive routes besides chat, counted in the database so every app server shares
// them (lib/http/rate-limit.ts). A route is limited per client address, and per wallet where the caller
// is signed in (wallets cost nothing, so the address limit is what holds against a script with many).
// Over a limit: 429 with Retry-After, before the route does any work.
import { getDb } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { addressBucket, clientAddress } from "./client-address";
import { takeRateLimits, type LimitKey } from "./rate-limit";

export type LimitedRoute = "nonce" | "verify" | "modelTest" | "upload" | "uploadRequest" | "earnings" | "licenceReads";

const WHAT: Record<LimitedRoute, string> = {
  nonce: "sign-in requests",
  verify: "sign-in attempts",
  modelTest: "connection tests",
  upload: "uploads",
  uploadRequest: "upload requests",
  earnings: "earnings reads",
  licenceReads: "licence reads",
};

/** The per-minute limits of a route: [per wallet, per client address]. */
function limitsOf(route: LimitedRoute): { wallet: number; address: number } {
  const env = serverEnv();
  switch (route) {
    case "nonce":
      return { wallet: Infinity, address: env.NONCE_RATE_LIMIT_IP };
    // Per address only: a limit per wallet named in the message would let anyone lock a wallet out.
    case "verify":
      return { wallet: Infinity, address: env.NONCE_RATE_LIMIT_IP };
    case "modelTest":
      return { wallet: env.MODEL_TEST_RATE_LIMIT_WALLET, address: env.MODEL_TEST_RATE_LIMIT_WALLET * 3 };
    case "upload":
      return { wallet: env.UPLOAD_RATE_LIMIT_WALLET, address: env.UPLOAD_RATE_LIMIT_WALLET * 3 };
    case "uploadRequest":
      return { wallet: env.UPLOAD_REQUEST_RATE_LIMIT_WALLET, address: env.UPLOAD_REQUEST_RATE_LIMIT_WALLET * 3 };
    case "earnings":
      return { wallet: Infinity, address: env.EARNINGS_RATE_LIMIT_IP };
    // Public reads of the chain, like the earnings pages: the same per-address limit, counted apart.
    case "licenceReads":
      return { wallet: Infinity, address: env.EARNINGS_RATE_LIMIT_IP };
  }
}

/** Counts this request against the route's limits; throws 429 (with Retry-After) when one is exceeded. */
export async function enforceRouteLimit(request: Request, route: LimitedRoute, wallet?: string): Promise<void> {
  const limits = limitsOf(route);
  const keys: LimitKey[] = [{ key: `${route}:ip:${addressBucket(clientAddress(request, serverEnv().TRUSTED_PROXY_HOPS))}`, limit: limits.address }];
  if (wallet && Number.isFinite(limits.wallet)) keys.push({ key: `${route}:wallet:${wallet.toLowerCase()}`, limit: limits.wallet });
  const { exceeded, retryAfterMs } = await takeRateLimits(getDb(), keys);
  if (!exceeded) return;
  const seconds = Math.ceil(retryAfterMs / 1000);
  const who = exceeded === keys[0] ? "network address" : "wallet";
  throw new AppError("too_many_requests", `Too many ${WHAT[route]} from this ${who}. Try again in ${seconds} s.`, {
    headers: { "Retry-After": String(seconds) },
  });
}
