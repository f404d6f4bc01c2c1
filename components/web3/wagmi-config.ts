// Builds the wagmi config from the run-time PublicConfig: one custom chain (the configured id and RPC
// URL), an http transport, and the wallets that work without WalletConnect.
import { connectorsForWallets, type WalletList } from "@rainbow-me/rainbowkit";
import { injectedWallet } from "@rainbow-me/rainbowkit/wallets";
import { createConfig, http, type Config } from "wagmi";
import { appChain } from "@/lib/chain/chain";
import type { PublicConfig } from "@/lib/chain/public-config";
import { devWallet } from "@/components/web3/dev-wallet";

export const APP_NAME = "KIP Marketplace";

// connectorsForWallets requires a WalletConnect project id. None of the wallets below use WalletConnect
// (injected and local signing only), so this placeholder is never sent anywhere. Wallets that fall back
// to WalletConnect (RainbowKit's metaMaskWallet when no extension is present) are left out on purpose:
// WalletConnect's relay is not reachable from the machines this runs on. Browser extensions, MetaMask
// included, still appear through EIP-6963 discovery and the generic injected wallet.
const UNUSED_WALLETCONNECT_PROJECT_ID = "walletconnect-not-used";

export function createWagmiConfig(config: PublicConfig): Config {
  const chain = appChain(config.chainId, config.rpcUrl);

  const walletList: WalletList = [];
  if (config.devWallet) {
    walletList.push({
      groupName: "Local development",
      wallets: [devWallet({ privateKey: config.devWallet.privateKey, chain, rpcUrl: config.rpcUrl })],
    });
  }
  walletList.push({ groupName: "Browser wallets", wallets: [injectedWallet] });

  const connectors = connectorsForWallets(walletList, {
    appName: APP_NAME,
    appUrl: config.appUrl,
    projectId: UNUSED_WALLETCONNECT_PROJECT_ID,
  });

  return createConfig({
    chains: [chain],
    connectors,
    transports: { [chain.id]: http(config.rpcUrl) },
    // EIP-6963: list every installed extension (MetaMask, Rabby, ...) by its own name.
    multiInjectedProviderDiscovery: true,
    ssr: true,
  });
}
