"use client";
// The providers every page has, and nothing heavier: the run-time PublicConfig the root layout read at
// request time (nothing about the chain is baked into the bundle), the signed-in session the layout read
// from the cookie, and the wallet host that loads the wallet code when a page or the user needs it.
import type { ReactNode } from "react";
import type { PublicConfig } from "@/lib/chain/public-config";
import { PublicConfigProvider } from "@/components/web3/public-config-context";
import { SessionProvider, type SessionInfo } from "@/components/web3/session";
import { WalletHost } from "@/components/web3/wallet-host";

export function Providers({ config, session, children }: { config: PublicConfig; session: SessionInfo | null; children: ReactNode }) {
  return (
    <PublicConfigProvider config={config}>
      <SessionProvider initial={session}>
        <WalletHost>{children}</WalletHost>
      </SessionProvider>
    </PublicConfigProvider>
  );
}
