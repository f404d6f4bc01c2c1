import "server-only";
// What the browser needs to know about the deployment, read from the environment at request time and
// handed to the client providers by the root layout. Only public values: the development wallet's key
// is anvil's well-known account #1 and is included only on a local chain.
import fs from "node:fs";
import type { Address, Hex } from "viem";
import { chainName } from "@/lib/chain/chain";
import { deploymentFilePath, readDeployment } from "@/lib/chain/deployment";
import { devWalletEnabled, serverEnv } from "@/lib/env";

/** Anvil's account #1 (account #0 deploys and settles). Public knowledge; holds value only on anvil. */
export const DEV_WALLET_ACCOUNT = {
  privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
} as const satisfies { privateKey: Hex; address: Address };

export type PublicConfig = {
  chainId: number;
  chainName: string;
  /** RPC URL the browser uses (PUBLIC_RPC_URL, else RPC_URL). */
  rpcUrl: string;
  appUrl: string;
  /** Block explorer base URL (EXPLORER_URL), or null: transactions then open the app's own /tx page. */
  explorerUrl: string | null;
  devWallet: { privateKey: Hex; address: Address } | null;
  /** `operator`: the account spending sessions are bound to (the server settles with it). */
  contracts: { paymentToken: Address; assets: Address; settlement: Address; licences: Address; operator: Address } | null;
  /** Why `contracts` is null (no deployment file yet, or a malformed one). */
  contractsError: string | null;
};

export function readPublicConfig(): PublicConfig {
  const env = serverEnv();
  let contracts: PublicConfig["contracts"] = null;
  let contractsError: string | null = null;
  try {
    const deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
    contracts = {
      paymentToken: deployment.paymentToken as Address,
      assets: deployment.assets as Address,
      settlement: deployment.settlement as Address,
      licences: deployment.licences as Address,
      operator: deployment.operator as Address,
    };
  } catch (error) {
    // The browser gets a short explanation; the full one (with server paths) goes to the server log.
    const missing = !fs.existsSync(/*turbopackIgnore: true*/ deploymentFilePath(env.CHAIN_ID, env.DEPLOYMENTS_FILE));
    contractsError = missing
      ? `The contracts are not deployed on chain ${env.CHAIN_ID} yet (no deployments/${env.CHAIN_ID}.json). Run \`npm start\` for a local chain or \`npm run deploy\`.`
      : `The deployment file for chain ${env.CHAIN_ID} is malformed; see the server log.`;
    if (!missing) console.error(error);
  }
  return {
    chainId: env.CHAIN_ID,
    chainName: chainName(env.CHAIN_ID),
    rpcUrl: env.PUBLIC_RPC_URL ?? env.RPC_URL,
    appUrl: new URL(env.APP_URL).origin,
    explorerUrl: env.EXPLORER_URL ? env.EXPLORER_URL.replace(/\/+$/, "") : null,
    devWallet: devWalletEnabled(env) ? { ...DEV_WALLET_ACCOUNT } : null,
    contracts,
    contractsError,
  };
}
