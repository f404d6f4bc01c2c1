import "server-only";
// The server's viem public client for the configured chain (RPC_URL), created on first use.
import { createPublicClient, http, type PublicClient } from "viem";
import { appChain } from "@/lib/chain/chain";
import { serverEnv } from "@/lib/env";

let cached: { key: string; client: PublicClient } | undefined;

export function serverPublicClient(): PublicClient {
  const env = serverEnv();
  const key = `${env.CHAIN_ID}|${env.RPC_URL}`;
  if (cached?.key !== key) {
    const client = createPublicClient({
      chain: appChain(env.CHAIN_ID, env.RPC_URL),
      // Fail fast: a request waiting on a dead node should get a clear 502, not hang.
      // Reads started in the same tick go out as one JSON-RPC batch (a paid chat message makes three),
      // kept small because public RPCs cap batch sizes.
      transport: http(env.RPC_URL, { timeout: 5_000, retryCount: 1, batch: { batchSize: 30 } }),
    }) as PublicClient;
    cached = { key, client };
  }
  return cached.client;
}
