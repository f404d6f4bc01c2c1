// Starts a local anvil chain. The anvil binary is started directly (not through `npx anvil`, whose
// node wrapper would survive a kill) in its own process group.
import { createRequire } from "node:module";
import path from "node:path";
import { isPortFree, startProcess, waitFor } from "./process";

const require = createRequire(import.meta.url);

export function anvilBinary(): string {
  const platform = process.platform === "win32" ? "win32" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = require.resolve(`@foundry-rs/anvil-${platform}-${arch}/package.json`);
  return path.join(path.dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

export interface AnvilOptions {
  port?: number;
  host?: string;
  chainId?: number;
  /** Load chain state from this file at start and write it back periodically and at exit. */
  statePath?: string;
  /** Show anvil's own log. */
  verbose?: boolean;
}

export interface AnvilHandle {
  rpcUrl: string;
  chainId: number;
  stop(): Promise<void>;
}

export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilHandle> {
  const port = options.port ?? 8545;
  const host = options.host ?? "127.0.0.1";
  const chainId = options.chainId ?? 31337;
  if (!(await isPortFree(port, host))) {
    throw new Error(`Port ${port} is in use: stop what runs there, or set RPC_URL to use that chain.`);
  }
  const args = ["--host", host, "--port", String(port), "--chain-id", String(chainId)];
  // A generous block gas limit: settlement batches of a few hundred receipts fit in one block.
  args.push("--gas-limit", "100000000");
  if (options.statePath) args.push("--state", options.statePath, "--state-interval", "5");
  if (!options.verbose) args.push("--silent");
  const managed = startProcess("anvil", anvilBinary(), args, { quiet: !options.verbose });
  const rpcUrl = `http://${host}:${port}`;
  await waitFor(
    `anvil on ${rpcUrl}`,
    async () => {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      const body = (await response.json()) as { result?: string };
      return body.result ? Number(body.result) : undefined;
    },
    { timeoutMs: 30_000, failed: () => (managed.child.exitCode !== null ? `exited with ${managed.child.exitCode}` : undefined) },
  );
  return { rpcUrl, chainId, stop: managed.stop };
}

/** Anvil's well-known development accounts (mnemonic "test test ... junk"). Public test keys: local chains only. */
export const ANVIL_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const satisfies readonly `0x${string}`[];
