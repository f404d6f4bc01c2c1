// `npm start` (production build) and `npm run dev` (Next's dev server): the whole marketplace locally.
//   - anvil on 127.0.0.1:8545 unless RPC_URL is set (then that chain is used)
//   - contracts deployed (or re-used) → deployments/<chainId>.json, typed ABIs regenerated
//   - PostgreSQL: an embedded server with its data in data/pg (port EMBEDDED_PG_PORT, default 5433, or a
//     free one), unless DATABASE_URL names one; migrated, demo data seeded once
//   - the app on http://localhost:3000 (PORT overrides)
// Ctrl-C stops everything (PostgreSQL last, with a clean shutdown); the next start keeps the chain state
// and the database in data/.
import fs from "node:fs";
import path from "node:path";
import { ROOT, startStack } from "./stack";
import { run } from "./stack/process";
import { describeDatabaseUrl } from "../lib/db-url";
import { isLocalChain } from "../lib/env";

const mode = process.argv.includes("--dev") ? "dev" : "start";
const envFile = path.join(ROOT, ".env");
if (fs.existsSync(envFile)) process.loadEnvFile(envFile);

const appPort = Number(process.env.PORT ?? 3000);
const dataDir = path.resolve(ROOT, process.env.DATA_DIR ?? "data");
const started = Date.now();

async function main() {
  const stack = await startStack({
    mode,
    appPort,
    anvilPort: Number(process.env.ANVIL_PORT ?? 8545),
    rpcUrl: process.env.RPC_URL || undefined,
    dataDir,
    postgresPort: Number(process.env.EMBEDDED_PG_PORT ?? 5433),
    persistChain: true,
    seed: process.env.SEED_DEMO !== "off",
    build: true,
    env: {},
    log: (line) => console.log(`• ${line}`),
    unsafe: process.argv.includes("--unsafe"),
  });

  // Regenerate the typed ABIs from the artifacts the deploy step just built.
  await run(path.join(ROOT, "node_modules", ".bin", "wagmi"), ["generate"], { cwd: ROOT }).catch((error: unknown) =>
    console.warn(`! could not regenerate typed ABIs: ${String(error)}`),
  );

  const local = isLocalChain(stack.chainId);
  console.log(`
KIP marketplace is up (${((Date.now() - started) / 1000).toFixed(0)} s)

  Open        ${stack.appUrl}
  Chain       ${stack.rpcUrl} (chain id ${stack.chainId})
  Contracts   assets ${stack.deployment.assets}
              settlement ${stack.deployment.settlement}
              licences ${stack.deployment.licences}
              payment token ${stack.deployment.paymentToken}${stack.deployment.paymentTokenIsMock ? " (mUSD mock)" : ""}
  Database    ${process.env.DATABASE_URL ? `PostgreSQL at ${describeDatabaseUrl(stack.databaseUrl)} (DATABASE_URL)` : `embedded PostgreSQL in ${path.join(dataDir, "pg")}, for tools such as psql at 127.0.0.1:${new URL(stack.databaseUrl).port}`}
  Data        ${dataDir}
${
  local
    ? `
  Connect a wallet:
    • In any browser: "Connect wallet" → "Development wallet" (a funded anvil account, local chain only).
    • MetaMask: add network RPC ${stack.rpcUrl}, chain id ${stack.chainId}, currency ETH, then import
      an anvil test key (see README). Never send real funds to these public keys.
`
    : ""
}
Press Ctrl-C to stop.`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the app, the chain and the database…`);
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(`\n✗ ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
