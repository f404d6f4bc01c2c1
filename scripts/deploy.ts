// `npm run deploy`: deploy the contracts to the chain at RPC_URL with DEPLOYER_PRIVATE_KEY and write
// deployments/<chainId>.json. Optional: PAYMENT_TOKEN (an existing ERC-20; a mUSD mock is deployed when
// unset), TREASURY, FEE_BPS, WITHDRAW_DELAY, METADATA_BASE_URI (e.g. https://your.app/api/metadata/),
// SETTLER_PRIVATE_KEY (its account is the operator that spending sessions name and that settles them; default: the deployer's). Off local chains
// it refuses the mock token, a withdrawal delay under an hour and public test keys unless `--unsafe`.
import fs from "node:fs";
import path from "node:path";
import { createPublicClient, http, type Hex } from "viem";
import { ROOT } from "./stack";
import { isLocalChain } from "../lib/env";
import { deployContracts, operatorAddress } from "./stack/deploy";
import { assertSafeDeploy } from "./stack/guards";

const envFile = path.join(ROOT, ".env");
if (fs.existsSync(envFile)) process.loadEnvFile(envFile);

async function main() {
  const rpcUrl = process.env.RPC_URL;
  const key = process.env.DEPLOYER_PRIVATE_KEY as Hex | undefined;
  if (!rpcUrl) throw new Error("RPC_URL is required: the JSON-RPC endpoint of the chain to deploy to");
  if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error("DEPLOYER_PRIVATE_KEY is required (0x + 64 hex characters)");
  const chainId = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  if (process.env.CHAIN_ID && Number(process.env.CHAIN_ID) !== chainId) {
    throw new Error(`CHAIN_ID is ${process.env.CHAIN_ID} but ${rpcUrl} reports chain ${chainId}`);
  }
  assertSafeDeploy(
    {
      local: isLocalChain(chainId),
      chainId,
      paymentToken: process.env.PAYMENT_TOKEN,
      withdrawDelay: process.env.WITHDRAW_DELAY,
      keys: [
        { name: "DEPLOYER_PRIVATE_KEY", key },
        { name: "SETTLER_PRIVATE_KEY", key: process.env.SETTLER_PRIVATE_KEY },
      ],
    },
    process.argv.includes("--unsafe"),
    (line) => console.warn(`! ${line}`),
  );
  const deployment = await deployContracts({
    rpcUrl,
    chainId,
    privateKey: key,
    env: {
      PAYMENT_TOKEN: process.env.PAYMENT_TOKEN,
      TREASURY: process.env.TREASURY,
      FEE_BPS: process.env.FEE_BPS,
      WITHDRAW_DELAY: process.env.WITHDRAW_DELAY,
      METADATA_BASE_URI: process.env.METADATA_BASE_URI,
      OPERATOR: operatorAddress(process.env.SETTLER_PRIVATE_KEY),
    },
    log: (line) => console.log(`• ${line}`),
  });
  console.log(JSON.stringify(deployment, null, 2));
  console.log(`Wrote deployments/${chainId}.json. Start the app against it with RPC_URL=${rpcUrl} npm start.`);
}

main().catch((error: unknown) => {
  console.error(`✗ ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
