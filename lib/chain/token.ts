import "server-only";
// The payment token's symbol and decimals, read from the chain once per process.
import { erc20Abi, type Address } from "viem";
import { serverPublicClient } from "@/lib/chain/server-client";

export type TokenInfo = { address: Address; symbol: string; decimals: number };

const cache = new Map<string, Promise<TokenInfo>>();

/** Symbol and decimals of an ERC-20, or null when the chain cannot be reached. */
export async function readTokenInfo(address: Address): Promise<TokenInfo | null> {
  let pending = cache.get(address);
  if (!pending) {
    const client = serverPublicClient();
    pending = Promise.all([
      client.readContract({ address, abi: erc20Abi, functionName: "symbol" }),
      client.readContract({ address, abi: erc20Abi, functionName: "decimals" }),
    ]).then(([symbol, decimals]) => ({ address, symbol, decimals }));
    cache.set(address, pending);
    // A failed read is not remembered: the node may come back.
    pending.catch(() => cache.delete(address));
  }
  return pending.catch(() => null);
}
