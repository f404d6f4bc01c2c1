"use client";
// The chain this deployment runs on; red when the connected wallet is on another one.
import { useAccount, useSwitchChain } from "wagmi";
import { usePublicConfig } from "@/components/web3/public-config-context";

export function NetworkBadge({ className = "" }: { className?: string }) {
  const config = usePublicConfig();
  const { chainId, isConnected } = useAccount();
  const { switchChain, isPending } = useSwitchChain();
  const wrong = isConnected && chainId !== undefined && chainId !== config.chainId;

  if (wrong) {
    return (
      <button
        type="button"
        onClick={() => switchChain({ chainId: config.chainId })}
        disabled={isPending}
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
