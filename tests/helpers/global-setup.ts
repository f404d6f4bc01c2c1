// Starts one real stack for the integration and browser tests: anvil on a free port, the contracts
// deployed by the forge script, an embedded PostgreSQL on a free port with its data in a temporary
// directory (migrations and demo data applied), and the app built and served by `next start` on a free
// port. Everything is stopped afterwards, and every port is checked to be free again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startStack } from "../../scripts/stack";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { freePort, isPortFree } from "../../scripts/stack/process";
import type { StackInfo } from "./stack-info";

export default async function setup(project: TestProject) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-test-stack-"));
  const anvilPort = await freePort();
  const appPort = await freePort();
  const started = Date.now();
  const stack = await startStack({
    mode: "start",
    appPort,
    anvilPort,
    dataDir,
    postgresPort: await freePort(),
    deploymentFile: path.join(dataDir, "deployment.json"),
    persistChain: false,
    seed: true,
    build: process.env.KIP_TEST_SKIP_BUILD !== "1",
    env: {
      APP_URL: `http://localhost:${appPort}`,
      // Tests must not depend on a developer's .env or a running chain.
      RPC_URL: undefined,
      DATABASE_URL: undefined,
      CHAIN_ID: undefined,
      WITHDRAW_DELAY: "3600",
      // The stack's settlement worker signs with its own key, so tests can send owner transactions from
      // anvil #0 (the deployer) without racing the worker for nonces.
      SETTLER_PRIVATE_KEY: ANVIL_KEYS[9],
      // Settle quickly so tests see receipts settle; many tests share one IP.
      SETTLE_INTERVAL_MS: "1000",
      SETTLE_BATCH_SIZE: "20",
      CHAT_RATE_LIMIT_IP: "1000",
      // tests/integration/chat.test.ts sends its attacks and answers from one wallet within a minute; the
      // wallet limit itself is tested by scale-out.test.ts with a limit of its own.
      CHAT_RATE_LIMIT_WALLET: "120",
      // As if behind one proxy: the rate-limit tests send X-Forwarded-For to be a client of their own,
      // so filling a bucket never slows the other tests (which all come from 127.0.0.1).
      TRUSTED_PROXY_HOPS: "1",
      NONCE_RATE_LIMIT_IP: "200",
      EARNINGS_RATE_LIMIT_IP: "600",
      MODEL_TEST_RATE_LIMIT_WALLET: "20",
      UPLOAD_RATE_LIMIT_WALLET: "20",
      // Model endpoints may use the stand-ins' loopback address only (tests/helpers/openai-stand-in.ts):
      // every other internal address is refused, as off a local chain.
      MODEL_HOSTS_ALLOW: "127.0.0.2",
      // No periodic model health probes: a probe finding a test's model down would make its chat refuse
      // questions mid-test. Health tests ask for each probe (POST /api/models/:id/health).
      MODEL_PROBE_INTERVAL_MS: "0",
      // The shortest rotation the server accepts, so the rotation test need only age a session by a minute.
      SESSION_ROTATE_SECONDS: "60",
    },
    log: (line) => process.stdout.write(`[stack] ${line}\n`),
  });
  process.stdout.write(`[stack] up in ${((Date.now() - started) / 1000).toFixed(0)} s at ${stack.appUrl}\n`);
  const info: StackInfo = {
    appUrl: stack.appUrl,
    rpcUrl: stack.rpcUrl,
    chainId: stack.chainId,
    databaseUrl: stack.databaseUrl,
    deployment: stack.deployment,
    env: stack.env,
  };
  project.provide("stack", info);
  return async () => {
    await stack.stop();
    const postgresPort = Number(new URL(stack.databaseUrl).port);
    for (const port of [anvilPort, appPort, postgresPort]) {
      if (!(await isPortFree(port))) throw new Error(`port ${port} is still in use after the stack stopped`);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
