"use client";
// Forms that create listings need a signed-in wallet on the app's chain; this says so instead of a form
// that would fail on submit. A form's page signs and sends, so it loads the wallet code once signed in.
import type { ReactNode } from "react";
import { EmptyState } from "@/components/ui/card";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { useSession } from "@/components/web3/session";
import { ConnectWalletButton } from "@/components/web3/wallet-button";
import { useWalletAccount } from "@/components/web3/wallet-host";

export function SignInGate({ children, what }: { children: ReactNode; what: string }) {
  const session = useSession();
  const config = usePublicConfig();
  const { chainId, status } = useWalletAccount({ load: session !== null });
  if (!session) {
    return (
      <EmptyState title={`Sign in to list ${what}`} action={<ConnectWalletButton />}>
        Listings are created by a wallet: connect one and sign the sign-in message (free, no transaction).
      </EmptyState>
    );
  }
  return (
    <>
      {status === "connected" && chainId !== config.chainId ? (
        <div role="alert" className="mb-6 rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900">
          Your wallet is on chain {chainId}. Switch it to {config.chainName} (chain {config.chainId}) before listing.
        </div>
      ) : null}
      {children}
    </>
  );
}
