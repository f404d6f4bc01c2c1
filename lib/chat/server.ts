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
import { takeRateLimits } from "@/lib/http/rate-limit";

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

/** Counts this chat request against the wallet's and the client address's limits (shared by every server). */
export async function assertWithinLimits(db: Db, wallet: string, address: string): Promise<void> {
  const env = serverEnv();
  const wallets = { key: `wallet:${wallet.toLowerCase()}`, limit: env.CHAT_RATE_LIMIT_WALLET };
  const { exceeded, retryAfterMs } = await takeRateLimits(db, [wallets, { key: `ip:${addressBucket(address)}`, limit: env.CHAT_RATE_LIMIT_IP }]);
  if (exceeded) {
    const seconds = Math.ceil(retryAfterMs / 1000);
    const what = exceeded === wallets ? "wallet" : "network address";
    throw new ChatError("too_many_requests", "rate_limited", `Too many messages from this ${what}. Try again in ${seconds} s.`, {
      "Retry-After": String(seconds),
    });
  }
}
