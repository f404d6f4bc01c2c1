// The one chain the app talks to, built at run time from configuration (never baked into a bundle).
// Shared by the browser (wagmi) and the server (viem public clients).
import { defineChain, type Chain } from "viem";

const KNOWN_NAMES: Record<number, string> = {
  1: "Ethereum",
  10: "OP Mainnet",
  137: "Polygon",
  1337: "Local chain",
  8453: "Base",
  11155111: "Sepolia",
  84532: "Base Sepolia",
  31337: "Local chain (anvil)",
};

export function chainName(chainId: number): string {
  return KNOWN_NAMES[chainId] ?? `Chain ${chainId}`;
}

/** A viem chain for the configured id and RPC URL. Native currency is ETH on every chain we target. */
export function appChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainName(chainId),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: chainId !== 1 && chainId !== 10 && chainId !== 137 && chainId !== 8453,
  });
}
