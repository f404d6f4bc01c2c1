// Deploys the contracts with the forge script (contracts/script/Deploy.s.sol), or re-uses a deployment
// whose contracts are still on the chain.
import fs from "node:fs";
import path from "node:path";
import { createPublicClient, http, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deploymentSchema, type Deployment } from "../../lib/chain/deployment";
import { kipSettlementAbi } from "../../lib/chain/generated";
import { SETTLEMENT_DOMAIN_VERSION } from "../../lib/protocol/eip712";
import { run } from "./process";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const CONTRACTS = path.join(ROOT, "contracts");

export function forgeBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return path.join(ROOT, "node_modules", "@foundry-rs", `forge-${process.platform}-${arch}`, "bin", "forge");
}

export interface DeployOptions {
  rpcUrl: string;
  chainId: number;
  privateKey: Hex;
  /** Where to write the deployment JSON (default deployments/<chainId>.json). */
  deploymentFile?: string;
  /** Extra environment for the script: PAYMENT_TOKEN, TREASURY, FEE_BPS, WITHDRAW_DELAY, METADATA_BASE_URI,
   * OPERATOR (address). */
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}

/** The operator: the address of the settlement key (sessions name it); undefined: the deployer's. */
export function operatorAddress(settlerPrivateKey: string | undefined): string | undefined {
  return settlerPrivateKey ? privateKeyToAccount(settlerPrivateKey as Hex).address : undefined;
}

/**
 * The deployment in `file` if every contract in it still has code on the chain at `rpcUrl` and its
 * settlement contract speaks this protocol version (an older one is replaced by a new deployment).
 */
export async function existingDeployment(rpcUrl: string, chainId: number, file: string): Promise<Deployment | undefined> {
  if (!fs.existsSync(file)) return undefined;
  const parsed = deploymentSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
  if (!parsed.success || parsed.data.chainId !== chainId) return undefined;
  const client = createPublicClient({ transport: http(rpcUrl) });
  for (const address of [parsed.data.paymentToken, parsed.data.assets, parsed.data.settlement, parsed.data.licences] as Hex[]) {
    const code = await client.getCode({ address });
    if (!code || code === "0x") return undefined;
  }
  const domain = await client
    .readContract({ address: parsed.data.settlement as Hex, abi: kipSettlementAbi, functionName: "eip712Domain" })
    .catch(() => null);
  if (!domain || domain[2] !== SETTLEMENT_DOMAIN_VERSION) return undefined;
  return parsed.data;
}

export async function deployContracts(options: DeployOptions): Promise<Deployment> {
  const file = options.deploymentFile ?? path.join(ROOT, "deployments", `${options.chainId}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const log = options.log ?? (() => {});
  log("compiling contracts (forge build)…");
  await run(forgeBinary(), ["build"], { cwd: CONTRACTS });
  log("deploying contracts (forge script)…");
  await run(
    forgeBinary(),
    ["script", "script/Deploy.s.sol:Deploy", "--rpc-url", options.rpcUrl, "--private-key", options.privateKey, "--broadcast", "--slow"],
    {
      cwd: CONTRACTS,
      env: { ...process.env, ...options.env, DEPLOYMENT_FILE: file, FOUNDRY_DISABLE_NIGHTLY_WARNING: "1" },
    },
  );
  const deployment = deploymentSchema.parse(JSON.parse(fs.readFileSync(file, "utf8")));
  if (deployment.chainId !== options.chainId) {
    throw new Error(`Deployed to chain ${deployment.chainId}, expected ${options.chainId}`);
  }
  return deployment;
}

export async function ensureDeployment(options: DeployOptions): Promise<{ deployment: Deployment; reused: boolean }> {
  const file = options.deploymentFile ?? path.join(ROOT, "deployments", `${options.chainId}.json`);
  const existing = await existingDeployment(options.rpcUrl, options.chainId, file);
  if (existing) return { deployment: existing, reused: true };
  return { deployment: await deployContracts({ ...options, deploymentFile: file }), reused: false };
}
