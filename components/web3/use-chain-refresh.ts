"use client";
// Refetch chain-derived queries when a new block arrives (wagmi polls the node for the block number).
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useBlockNumber } from "wagmi";

export function useRefreshOnNewBlock(queryKey: QueryKey, enabled = true): bigint | undefined {
  const queryClient = useQueryClient();
  const { data: block } = useBlockNumber({ watch: enabled, query: { enabled } });
  const seen = useRef<bigint | undefined>(undefined);
  const key = JSON.stringify(queryKey);
  useEffect(() => {
    if (block === undefined) return;
    if (seen.current !== undefined && block !== seen.current) void queryClient.invalidateQueries({ queryKey: JSON.parse(key) as QueryKey });
    seen.current = block;
  }, [block, key, queryClient]);
  return block;
}

/** GET a JSON report from the app's API; errors carry the server's message. */
export async function fetchReport<T>(url: string): Promise<T> {
  const response = await fetch(url, { cache: "no-store" });
  const body = (await response.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body as T;
}
