// Builds the wagmi config from the run-time PublicConfig: one custom chain (the configured id and RPC
// URL), an http transport, and the wallets that work without WalletConnect.
import type { Wallet, WalletList } from "@rainbow-me/rainbowkit";
import { injectedWallet } from "@rainbow-me/rainbowkit/wallets";
import { createConfig, http, type Config, type CreateConnectorFn } from "wagmi";
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

  const connectors = walletConnectors(walletList, { appName: APP_NAME, projectId: UNUSED_WALLETCONNECT_PROJECT_ID });

  return createConfig({
    chains: [chain],
    connectors,
    transports: { [chain.id]: http(config.rpcUrl) },
    // EIP-6963: list every installed extension (MetaMask, Rabby, ...) by its own name.
    multiInjectedProviderDiscovery: true,
    ssr: true,
  });
}

/**
 * The connectors of the listed wallets, each carrying the `rkDetails` (name, icon, group) RainbowKit's
 * modal lists it by: what RainbowKit's connectorsForWallets does for wallets that need no WalletConnect.
 * connectorsForWallets itself lives in RainbowKit's main module, which would bring all of RainbowKit
 * (its modals, about 80 kB gzipped) to every page that only sends a transaction; RainbowKit loads with
 * the connect modal instead (components/web3/connect-ui.tsx).
 */
function walletConnectors(walletList: WalletList, { appName, projectId }: { appName: string; projectId: string }): CreateConnectorFn[] {
  const connectors: CreateConnectorFn[] = [];
  const seen = new Set<string>();
  let index = -1;
  for (const [groupIndex, { groupName, wallets }] of walletList.entries()) {
    for (const createWallet of wallets) {
      index++;
      const wallet: Wallet = createWallet({ projectId, appName });
      if (seen.has(wallet.id) || (typeof wallet.hidden === "function" && wallet.hidden())) continue;
      seen.add(wallet.id);
      const { createConnector, hidden: _hidden, ...meta } = wallet;
      void _hidden;
      // Without undefined fields, as RainbowKit spreads these over the connector's own.
      const defined = Object.fromEntries(Object.entries(meta).filter(([, value]) => value !== undefined)) as typeof meta;
      connectors.push(createConnector({ rkDetails: { ...defined, index, groupIndex: groupIndex + 1, groupName, isRainbowKitConnector: true } }));
    }
  }
  return connectors;
}
