// `npm run settle`: the settlement worker on its own (`npm start` runs it too). Reads the same
// configuration as the app (lib/env.ts): RPC_URL, CHAIN_ID, DATABASE_URL, SETTLER_PRIVATE_KEY,
// SETTLE_BATCH_SIZE, SETTLE_INTERVAL_MS, SETTLE_LEASE_MS. Any number may run against one database:
// only the holder of the deployment's settlement lease settles, the others stand by to take over.
// `--once` settles what is pending and exits (it too waits for the lease).
import fs from "node:fs";
import path from "node:path";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readDeployment } from "../lib/chain/deployment";
import { createDb } from "../lib/db-client";
import { isLocalChain, parseServerEnv } from "../lib/env";
import { Lease, whileHolding } from "../lib/settlement/lease";
import { SettlementWorker } from "../lib/settlement/worker";
import { ANVIL_KEYS } from "./stack/anvil";

const ROOT = path.resolve(import.meta.dirname, "..");
const envFile = path.join(ROOT, ".env");
if (fs.existsSync(envFile)) process.loadEnvFile(envFile);

async function main() {
  // The settler needs neither the cookie secret nor the encryption key: fill them so validation passes.
  const env = parseServerEnv({ SESSION_SECRET: "x".repeat(32), ENCRYPTION_KEY: `0x${"0".repeat(64)}`, ...process.env });
  const key = (env.SETTLER_PRIVATE_KEY ?? (isLocalChain(env.CHAIN_ID) ? ANVIL_KEYS[0] : undefined)) as Hex | undefined;
  if (!key) throw new Error(`SETTLER_PRIVATE_KEY is required on chain ${env.CHAIN_ID}`);
  const deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
  const db = createDb(env.DATABASE_URL);
  const account = privateKeyToAccount(key);
  const worker = new SettlementWorker({
    db,
    rpcUrl: env.RPC_URL,
    chainId: env.CHAIN_ID,
    settlement: deployment.settlement as Hex,
    account,
    operator: deployment.operator as Hex,
    batchSize: env.SETTLE_BATCH_SIZE,
    answerTimeoutMs: env.SETTLE_ANSWER_TIMEOUT_MS,
    fromBlock: BigInt(deployment.startBlock),
  });
  // Refuse to stand by (or take the lease) with an account that could never settle.
  await worker.checkAccount();
  const stop = new AbortController();
  process.on("SIGINT", () => stop.abort());
  process.on("SIGTERM", () => stop.abort());
  console.log(`settler ${account.address}, batches of up to ${env.SETTLE_BATCH_SIZE} every ${env.SETTLE_INTERVAL_MS} ms`);
  const lease = new Lease(db, `settlement:${env.CHAIN_ID}:${deployment.settlement.toLowerCase()}`, env.SETTLE_LEASE_MS);
  await whileHolding(lease, stop.signal, async (held) => {
    if (process.argv.includes("--once")) {
      await worker.reconcile();
      while (!held.aborted && (await worker.settleOnce()));
      stop.abort();
    } else {
      await worker.run(env.SETTLE_INTERVAL_MS, held);
    }
  });
  await db.$disconnect();
}

main().catch((error: unknown) => {
  console.error(`[settle] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
