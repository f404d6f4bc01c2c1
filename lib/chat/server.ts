import "server-only";
// Wiring for the chat routes: the chain context of the configured deployment and the rate limiters.
import type { Address } from "viem";
import { readDeployment } from "@/lib/chain/deployment";
import { serverPublicClient } from "@/lib/chain/server-client";
import { serverEnv } from "@/lib/env";
import type { ChainContext } from "./charges";
import { ChatError } from "./errors";
import { RateLimiter } from "./rate-limit";

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
    client: serverPublicClient(),
  };
}

const globalLimits = globalThis as unknown as { kipChatLimits?: { wallet: RateLimiter; ip: RateLimiter } };

export function chatLimits(): { wallet: RateLimiter; ip: RateLimiter } {
  const env = serverEnv();
  globalLimits.kipChatLimits ??= { wallet: new RateLimiter(env.CHAT_RATE_LIMIT_WALLET), ip: new RateLimiter(env.CHAT_RATE_LIMIT_IP) };
  return globalLimits.kipChatLimits;
}

export function assertWithinLimit(limiter: RateLimiter, key: string, what: string): void {
  const waitMs = limiter.take(key);
  if (waitMs > 0) {
    const seconds = Math.ceil(waitMs / 1000);
    throw new ChatError("too_many_requests", "rate_limited", `Too many messages from this ${what}. Try again in ${seconds} s.`, {
      "Retry-After": String(seconds),
    });
  }
}
