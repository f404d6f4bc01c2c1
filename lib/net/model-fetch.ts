import "server-only";
// The fetch every request to a model endpoint goes through (Test connection, chat, embeddings): the
// outbound policy of lib/net/outbound.ts built from MODEL_HOSTS_ALLOW and the chain.
import { isLocalChain, serverEnv } from "@/lib/env";
import { parseOutboundPolicy, policyFetch, type OutboundPolicy } from "@/lib/net/outbound";

let cached: { key: string; policy: OutboundPolicy; fetch: typeof fetch } | undefined;

export function modelFetch(): typeof fetch {
  const env = serverEnv();
  const key = `${env.CHAIN_ID}|${env.MODEL_HOSTS_ALLOW ?? ""}|${env.LOCAL_CHAIN_IDS ?? ""}`;
  if (cached?.key !== key) {
    const policy = parseOutboundPolicy(env.MODEL_HOSTS_ALLOW, isLocalChain(env.CHAIN_ID, env));
    cached = { key, policy, fetch: policyFetch(policy) };
  }
  return cached.fetch;
}
