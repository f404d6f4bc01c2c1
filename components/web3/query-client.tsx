"use client";
// react-query for the components that use it (wagmi's hooks, the chat, the creator's tools): one client
// per page in the browser, shared by every provider on it, so two parts of a page see one cache. The
// server renders with a client per request (nothing is cached across users).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

let browserClient: QueryClient | null = null;

const create = () => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } });

export function pageQueryClient(): QueryClient {
  if (typeof window === "undefined") return create();
  browserClient ??= create();
  return browserClient;
}

export function QueryProvider({ children }: { children: ReactNode }) {
  const [client] = useState(pageQueryClient);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
