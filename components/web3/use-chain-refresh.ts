"use client";
// Following the chain without wallet code: the node's block number, polled with one small JSON-RPC
// request (as often as wagmi would, every 4 s), and what to refresh when it moves: react-query queries
// (useRefreshOnNewBlock) or the server-rendered figures of the page (RefreshOnNewBlock).
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useEffectEvent } from "react";
import { usePublicConfig } from "@/components/web3/public-config-context";

const POLL_MS = 4_000;

/** Calls `onNewBlock` each time the node reports a block number other than the last one seen. */
export function useNewBlock(onNewBlock: (block: bigint) => void, enabled = true): void {
  const { rpcUrl } = usePublicConfig();
  const newBlock = useEffectEvent(onNewBlock);
  useEffect(() => {
    if (!enabled) return;
    let seen: bigint | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const response = await fetch(rpcUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
        });
        const { result } = (await response.json()) as { result?: string };
        if (result && !stopped) {
          const block = BigInt(result);
          if (seen !== undefined && block !== seen) newBlock(block);
          seen = block;
        }
      } catch {
        // The node is unreachable for now: try again at the next tick.
      }
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [rpcUrl, enabled]);
}

/** Refetches the react-query queries under `queryKey` on every new block. */
export function useRefreshOnNewBlock(queryKey: QueryKey, enabled = true): void {
  const queryClient = useQueryClient();
  const key = JSON.stringify(queryKey);
  useNewBlock(() => void queryClient.invalidateQueries({ queryKey: JSON.parse(key) as QueryKey }), enabled);
}

/** Re-renders the page's server components (their chain figures) on every new block. */
export function RefreshOnNewBlock() {
  const router = useRouter();
  useNewBlock(() => router.refresh());
  return null;
}

/** GET a JSON report from the app's API; errors carry the server's message. */
export async function fetchReport<T>(url: string): Promise<T> {
  const response = await fetch(url, { cache: "no-store" });
  const body = (await response.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body as T;
}
