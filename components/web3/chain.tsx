"use client";
// The wallet and chain code: one wagmi config per page (the configured chain, its RPC, the wallets), the
// connection it restores from storage, and the wagmi context for components that use wagmi's hooks.
// Loaded only where something signs or sends: statically by the chat page, and on demand
// (components/web3/wallet-host.tsx importChain) when the user connects or sends a transaction; never by
// the marketplace, asset or creator pages.
import { getAccount, hydrate, signTypedData, switchChain, waitForTransactionReceipt, watchAccount, writeContract, type Config } from "@wagmi/core";
import { useEffect, type ReactNode } from "react";
import { WagmiContext } from "wagmi";
import type { PublicConfig } from "@/lib/chain/public-config";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { QueryProvider } from "@/components/web3/query-client";
import { createWagmiConfig } from "@/components/web3/wagmi-config";
import { useWalletHost } from "@/components/web3/wallet-host";

export { getAccount, signTypedData, switchChain, waitForTransactionReceipt, writeContract };

let current: { config: Config; ready: Promise<void> | null } | null = null;

/** The page's wagmi config (one per page: every wagmi context on it shares the connection). */
export function chainConfig(publicConfig: PublicConfig): Config {
  // `ssr`: the server renders wagmi's components disconnected and the browser restores the connection
  // after hydration (startChain), so both render the same thing first.
  current ??= { config: createWagmiConfig(publicConfig), ready: null };
  return current.config;
}

/**
 * In the browser, once: restore the connection from storage and reconnect the wallet. Resolves when
 * the wallet is connected or known not to be.
 */
export function startChain(publicConfig: PublicConfig): Promise<void> {
  const config = chainConfig(publicConfig);
  const entry = current!;
  entry.ready ??= hydrate(config, { reconnectOnMount: true })
    .onMount()
    .then(
      () =>
        new Promise<void>((resolve) => {
          // onMount started reconnect(), which set the status to connecting or reconnecting first.
          const settled = () => config.state.status === "connected" || config.state.status === "disconnected";
          if (settled()) return resolve();
          const stop = config.subscribe(
            (state) => state.status,
            () => {
              if (!settled()) return;
              stop();
              resolve();
            },
          );
        }),
    );
  return entry.ready;
}

export type WalletAccount = { status: "unknown" | "connecting" | "reconnecting" | "connected" | "disconnected"; address?: `0x${string}`; chainId?: number };

let snapshot: WalletAccount | null = null;

/** The connected wallet, as one object per change (a useSyncExternalStore snapshot). */
export function walletAccount(config: Config): WalletAccount {
  const { status, address, chainId } = getAccount(config);
  if (!snapshot || snapshot.status !== status || snapshot.address !== address || snapshot.chainId !== chainId) snapshot = { status, address, chainId };
  return snapshot;
}

export function watchWalletAccount(config: Config, onChange: () => void): () => void {
  return watchAccount(config, { onChange });
}

/** The wagmi and react-query contexts for components that use wagmi's hooks (the chat page's payments). */
export function ChainProviders({ children }: { children: ReactNode }) {
  const publicConfig = usePublicConfig();
  const config = chainConfig(publicConfig);
  // Through the host, which then follows the connection (the network badge, the one-address rule).
  const { loadChain } = useWalletHost();
  useEffect(() => {
    loadChain().catch((error: unknown) => console.error("The wallet could not be reconnected:", error));
  }, [loadChain]);
  return (
    <WagmiContext.Provider value={config}>
      <QueryProvider>{children}</QueryProvider>
    </WagmiContext.Provider>
  );
}
