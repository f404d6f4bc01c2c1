// The whole local marketplace as one handle: chain (anvil, or RPC_URL), contracts, database, demo data
// and the Next.js app. Used by `npm start` / `npm run dev` and by the integration and browser tests.
import fs from "node:fs";
import path from "node:path";
import { createPublicClient, http, type Hex } from "viem";
import type { Deployment } from "../../lib/chain/deployment";
import { isLocalChain } from "../../lib/env";
import { ANVIL_KEYS, startAnvil } from "./anvil";
import { databaseUrlProblem, describeDatabaseUrl } from "../../lib/db-url";
import { migrateDatabase } from "./db";
import { checkDatabaseUrl, startEmbeddedPostgres } from "./postgres";
import { ensureDeployment, operatorAddress } from "./deploy";
import { run, startProcess, waitFor, type Managed } from "./process";
import { assertSafeDeploy } from "./guards";
import { loadOrCreateSecrets } from "./secrets";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");

export interface StackOptions {
  mode: "start" | "dev";
  appPort: number;
  /** Port for the embedded anvil (ignored when rpcUrl is given). */
  anvilPort: number;
  /** Use this chain instead of starting anvil. */
  rpcUrl?: string;
  dataDir: string;
  /** An external PostgreSQL; without it an embedded server keeps its data in dataDir/pg. */
  databaseUrl?: string;
  /** Preferred port of the embedded PostgreSQL (a free one is chosen when it is taken; default: any free port). */
  postgresPort?: number;
  deploymentFile?: string;
  /** Persist anvil's state in dataDir so a restart keeps the chain. */
  persistChain: boolean;
  seed: boolean;
  /** Run `next build` before `next start`. */
  build: boolean;
  /** Bind address for the app (default: all interfaces). */
  appHost?: string;
  /** Run the settlement worker (scripts/settle.ts) beside the app (default: true). */
  settle?: boolean;
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  /** Accept the risks scripts/stack/guards.ts refuses off local chains (`--unsafe`). */
  unsafe?: boolean;
}

export interface Stack {
  appUrl: string;
  rpcUrl: string;
  chainId: number;
  databaseUrl: string;
  deployment: Deployment;
  deploymentFile: string;
  env: Record<string, string>;
  /** The app server's process id (benchmarks read its CPU time). */
  appPid: number;
  stop(): Promise<void>;
}

export interface AppServer extends Managed {
  /** Resolves once /api/health answers at `url`; rejects if the server exits first. */
  ready(url: string): Promise<void>;
}

/**
 * Node options every app server runs with (bench/chat.ts measured both):
 * - Node 22 keeps AsyncLocalStorage, which Next.js reads many times per request, on async hooks: their
 *   promise hooks cost about 3 of a paid message's 19 core-ms. Async context frames (Node 24's default,
 *   in Node 22 and 23 behind a flag) do not.
 * - A request's objects (rows, passages, stream chunks) die young, but V8's default 16 MB semi-spaces
 *   fill within a few requests and each scavenge copies the survivors of all requests in flight: a
 *   paid message spent about 0.9 core-ms in the garbage collector. With 32 MB semi-spaces it costs
 *   0.3 to 0.5 core-ms less, for up to 48 MB more memory.
 */
export function appNodeOptions(nodeVersion = process.versions.node): string[] {
  const major = Number(nodeVersion.split(".")[0]);
  return [...(major === 22 || major === 23 ? ["--experimental-async-context-frame"] : []), "--max-semi-space-size=32"];
}

/**
 * One Next.js app server (`next start`, or `next dev`) on `port` with the stack's environment.
 * KIP_APP_NODE_OPTIONS, when set, is added to the app server's NODE_OPTIONS (for example
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it under `npx tsx bench/chat.ts`).
 */
export function startAppServer({ mode = "start", port, host, env, name = "app" }: { mode?: "start" | "dev"; port: number; host?: string; env: Record<string, string>; name?: string }): AppServer {
  const args = [mode === "dev" ? "dev" : "start", "-p", String(port)];
  if (host) args.push("-H", host);
  const app = startProcess(name, path.join(ROOT, "node_modules", ".bin", "next"), args, { cwd: ROOT, env: { ...env, PORT: String(port), NODE_OPTIONS: [...appNodeOptions(), process.env.KIP_APP_NODE_OPTIONS ?? ""].join(" ").trim() } as unknown as NodeJS.ProcessEnv, quiet: mode === "start" });
  const ready = (url: string) =>
    waitFor(
      `the app on ${url}`,
      async () => {
        const response = await fetch(`${url}/api/health`);
        return response.ok ? true : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 250, failed: () => (app.child.exitCode !== null ? `next exited with ${app.child.exitCode}` : undefined) },
    ).then(() => undefined);
  return { ...app, ready };
}

/** One settlement worker process (scripts/settle.ts) with the stack's environment. */
export function startSettlementWorker(env: Record<string, string>, name = "settle"): Managed {
  return startProcess(name, path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(ROOT, "scripts", "settle.ts")], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const baseEnv = { ...process.env, ...options.env };
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => {});
    stoppers.length = 0;
  };
  try {
    fs.mkdirSync(options.dataDir, { recursive: true });
    const secrets = loadOrCreateSecrets(options.dataDir);

    // 1. Database server: the one DATABASE_URL names, else an embedded one with its data beside the chain's.
    let databaseUrl = options.databaseUrl ?? baseEnv.DATABASE_URL;
    if (databaseUrl) {
      const problem = databaseUrlProblem(databaseUrl);
      if (problem) throw new Error(`DATABASE_URL ${problem} (got "${describeDatabaseUrl(databaseUrl)}")`);
      await checkDatabaseUrl(databaseUrl);
      log(`database: PostgreSQL at ${describeDatabaseUrl(databaseUrl)} (DATABASE_URL)`);
    } else {
      const postgres = await startEmbeddedPostgres({ dataDir: path.join(options.dataDir, "pg"), port: options.postgresPort, log });
      stoppers.push(postgres.stop);
      databaseUrl = postgres.url;
    }

    // 2. Chain
    let rpcUrl = options.rpcUrl;
    if (!rpcUrl) {
      log(`starting anvil on 127.0.0.1:${options.anvilPort}…`);
      const anvil = await startAnvil({
        port: options.anvilPort,
        statePath: options.persistChain ? path.join(options.dataDir, "anvil-state.json") : undefined,
      });
      stoppers.push(anvil.stop);
      rpcUrl = anvil.rpcUrl;
    }
    const chainId = await createPublicClient({ transport: http(rpcUrl) }).getChainId().catch((error: unknown) => {
      throw new Error(`Cannot reach the chain at ${rpcUrl}: ${String(error)}`);
    });
    if (baseEnv.CHAIN_ID && Number(baseEnv.CHAIN_ID) !== chainId) {
      throw new Error(`CHAIN_ID is ${baseEnv.CHAIN_ID} but ${rpcUrl} reports chain ${chainId}`);
    }
    const local = isLocalChain(chainId, baseEnv);
    assertSafeDeploy(
      {
        local,
        chainId,
        paymentToken: baseEnv.PAYMENT_TOKEN,
        withdrawDelay: baseEnv.WITHDRAW_DELAY,
        keys: [
          { name: "DEPLOYER_PRIVATE_KEY", key: baseEnv.DEPLOYER_PRIVATE_KEY },
          { name: "SETTLER_PRIVATE_KEY", key: baseEnv.SETTLER_PRIVATE_KEY },
        ],
        seedDemo: options.seed && baseEnv.SEED_DEMO === "force",
      },
      options.unsafe === true,
      log,
    );

    // 3. Contracts
    const deployerKey = (baseEnv.DEPLOYER_PRIVATE_KEY || (local ? ANVIL_KEYS[0] : undefined)) as Hex | undefined;
    if (!deployerKey) throw new Error(`DEPLOYER_PRIVATE_KEY is required to deploy on chain ${chainId}`);
    const deploymentFile = options.deploymentFile ?? path.join(ROOT, "deployments", `${chainId}.json`);
    const { deployment, reused } = await ensureDeployment({
      rpcUrl,
      chainId,
      privateKey: deployerKey,
      deploymentFile,
      env: {
        METADATA_BASE_URI: baseEnv.METADATA_BASE_URI ?? `${baseEnv.APP_URL ?? `http://localhost:${options.appPort}`}/api/metadata/`,
        PAYMENT_TOKEN: baseEnv.PAYMENT_TOKEN,
        TREASURY: baseEnv.TREASURY,
        FEE_BPS: baseEnv.FEE_BPS,
        WITHDRAW_DELAY: baseEnv.WITHDRAW_DELAY,
        OPERATOR: operatorAddress(baseEnv.SETTLER_PRIVATE_KEY),
      },
      log,
    });
    log(reused ? `contracts: re-using deployment on chain ${chainId}` : `contracts: deployed on chain ${chainId}`);

    // 4. Schema
    await migrateDatabase(databaseUrl);
    log("database: migrations applied");

    const appUrl = baseEnv.APP_URL ?? `http://localhost:${options.appPort}`;
    const env: Record<string, string> = Object.fromEntries(
      Object.entries({
        ...baseEnv,
        NODE_ENV: options.mode === "dev" ? "development" : "production",
        NEXT_TELEMETRY_DISABLED: "1",
        RPC_URL: rpcUrl,
        CHAIN_ID: String(chainId),
        DATABASE_URL: databaseUrl,
        DEPLOYMENTS_FILE: deploymentFile,
        APP_URL: appUrl,
        SESSION_SECRET: baseEnv.SESSION_SECRET || secrets.SESSION_SECRET,
        ENCRYPTION_KEY: baseEnv.ENCRYPTION_KEY || secrets.ENCRYPTION_KEY,
        UPLOAD_DIR: baseEnv.UPLOAD_DIR || path.join(options.dataDir, "uploads"),
        SETTLER_PRIVATE_KEY: baseEnv.SETTLER_PRIVATE_KEY || (local ? ANVIL_KEYS[0] : undefined),
      }).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
    );

    // 5. Demo data, once
    if (options.seed) {
      const { seedDemo } = await import("../seed/demo");
      const seeded = await seedDemo({ env, deployment, log });
      log(seeded ? "demo data: seeded" : "demo data: already present");
    }

    // 6. App
    const next = path.join(ROOT, "node_modules", ".bin", "next");
    if (options.mode === "start" && options.build) {
      log("building the app (next build)…");
      await run(next, ["build"], { cwd: ROOT, env: { ...env, NODE_ENV: "production" } as NodeJS.ProcessEnv });
    }
    const app = startAppServer({ mode: options.mode, port: options.appPort, host: options.appHost, env });
    stoppers.push(app.stop);

    // 7. Settlement worker: submits the receipts of paid answers in batches (stopped with the rest).
    if (options.settle !== false) {
      stoppers.push(startSettlementWorker(env).stop);
      log(`settlement worker: batches of up to ${env.SETTLE_BATCH_SIZE ?? 50} every ${env.SETTLE_INTERVAL_MS ?? 5000} ms`);
    }
    await app.ready(appUrl);
    // 8. The demo licence, once: published through the running app, as a creator would.
    if (options.seed) {
      const { seedDemoLicence } = await import("../seed/licence");
      // Demo content only: a failure is reported and the marketplace runs on without it.
      await seedDemoLicence({ appUrl, env, deployment, log }).catch((error: unknown) => log(`demo data: the licence was not seeded (${error instanceof Error ? error.message : String(error)})`));
    }
    return { appUrl, rpcUrl, chainId, databaseUrl, deployment, deploymentFile, env, appPid: app.child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
