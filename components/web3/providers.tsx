"use client";
// Client-side providers, built from the PublicConfig the root layout read at request time: nothing about
// the chain is baked into the bundle.
// First: zod is configured (no eval probe under the page CSP) before any library builds a schema.
import "@/lib/zod";
import { RainbowKitProvider, lightTheme } from "@rainbow-me/rainbowkit";
import "@rainbow-me/rainbowkit/styles.css";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { WagmiProvider } from "wagmi";
import type { PublicConfig } from "@/lib/chain/public-config";
import { AddressAvatar } from "@/components/web3/address-avatar";
import { AuthProvider } from "@/components/web3/auth";
import { PublicConfigProvider } from "@/components/web3/public-config-context";
import { APP_NAME, createWagmiConfig } from "@/components/web3/wagmi-config";

export function Providers({ config, children }: { config: PublicConfig; children: ReactNode }) {
  const [wagmiConfig] = useState(() => createWagmiConfig(config));
  const [queryClient] = useState(
    () => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } }),
  );

  return (
    <PublicConfigProvider config={config}>
      <WagmiProvider config={wagmiConfig}>
        <QueryClientProvider client={queryClient}>
          <AuthProvider>
            <RainbowKitProvider
              appInfo={{ appName: APP_NAME }}
              avatar={AddressAvatar}
              initialChain={config.chainId}
              modalSize="compact"
              theme={lightTheme({ accentColor: "#0f766e", borderRadius: "medium", fontStack: "system" })}
            >
              {children}
            </RainbowKitProvider>
          </AuthProvider>
        </QueryClientProvider>
      </WagmiProvider>
    </PublicConfigProvider>
  );
}
