"use client";
// The chain this deployment runs on; red when the connected wallet is on another one (known once the
// wallet code is loaded: before that no wallet is connected on this page).
import { useState } from "react";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { useWalletAccount, useWalletHost } from "@/components/web3/wallet-host";

export function NetworkBadge({ className = "" }: { className?: string }) {
  const config = usePublicConfig();
  const { chain } = useWalletHost();
  const { chainId, status } = useWalletAccount();
  const [switching, setSwitching] = useState(false);
  const wrong = status === "connected" && chainId !== undefined && chainId !== config.chainId;

  if (wrong && chain) {
    const switchChain = () => {
      setSwitching(true);
      chain
        .switchChain(chain.chainConfig(config), { chainId: config.chainId })
        .catch((error: unknown) => console.warn("The wallet did not switch networks:", error))
        .finally(() => setSwitching(false));
    };
    return (
      <button
        type="button"
        onClick={switchChain}
        disabled={switching}
        className={`inline-flex items-center gap-2 whitespace-nowrap rounded-full border border-red-300 bg-red-50 px-3 py-1 text-xs font-medium text-red-800 hover:bg-red-100 ${className}`}
        aria-label={`Wrong network: your wallet is on chain ${chainId}. Switch to ${config.chainName} (chain ${config.chainId}).`}
      >
        <span className="size-2 rounded-full bg-red-600" aria-hidden />
        Wrong network ({chainId}) · switch to {config.chainId}
      </button>
    );
  }
  return (
    <span
      className={`inline-flex items-center gap-2 whitespace-nowrap rounded-full border border-line bg-white px-3 py-1 text-xs font-medium text-muted ${className}`}
      title={`Network: ${config.chainName}, chain id ${config.chainId}`}
    >
      <span className="size-2 rounded-full bg-brand-500" aria-hidden />
      <span>
        {config.chainName} <span className="font-mono text-slate-400">#{config.chainId}</span>
      </span>
    </span>
  );
}
