"use client";
// Forms that create listings need a signed-in wallet on the app's chain; this says so instead of a form
// that would fail on submit.
import { ConnectButton } from "@rainbow-me/rainbowkit";
import type { ReactNode } from "react";
import { useAccount } from "wagmi";
import { EmptyState } from "@/components/ui/card";
import { useAuthStatus } from "@/components/web3/auth";
import { usePublicConfig } from "@/components/web3/public-config-context";

export function SignInGate({ children, what }: { children: ReactNode; what: string }) {
  const { status } = useAuthStatus();
  const config = usePublicConfig();
  const { chainId, isConnected } = useAccount();
  if (status === "loading") return <p className="text-sm text-muted">Checking your session…</p>;
  if (status !== "authenticated") {
    return (
      <EmptyState title={`Sign in to list ${what}`} action={<ConnectButton label="Connect wallet" showBalance={false} chainStatus="none" />}>
        Listings are created by a wallet: connect one and sign the sign-in message (free, no transaction).
      </EmptyState>
    );
  }
  return (
    <>
      {isConnected && chainId !== config.chainId ? (
        <div role="alert" className="mb-6 rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900">
          Your wallet is on chain {chainId}. Switch it to {config.chainName} (chain {config.chainId}) before listing.
        </div>
      ) : null}
      {children}
    </>
  );
}
