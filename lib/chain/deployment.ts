// Contract addresses for a chain, from deployments/<chainId>.json (written by contracts/script/Deploy.s.sol).
import fs from "node:fs";
import path from "node:path";
import { z } from "@/lib/zod";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address");

export const deploymentSchema = z.object({
  chainId: z.coerce.number().int(),
  paymentToken: address,
  paymentTokenIsMock: z.boolean(),
  assets: address,
  settlement: address,
  /** KipLicences: one-time licences to a slot's files (an older deployment without it is replaced). */
  licences: address,
  deployer: address,
  treasury: address,
  /** The server's settlement account: sessions name it, and only it can settle them (KipSettlement v2). */
  operator: address,
  feeBps: z.coerce.number().int(),
  withdrawDelay: z.coerce.number().int(),
  startBlock: z.coerce.number().int(),
});

export type Deployment = z.infer<typeof deploymentSchema>;

export function deploymentFilePath(chainId: number, override?: string): string {
  return override ?? path.resolve(/*turbopackIgnore: true*/ process.cwd(), "deployments", `${chainId}.json`);
}

/** The last file read, by path, with the modification time and size it had: read again when either moves. */
const lastRead = new Map<string, { mtimeMs: number; size: number; deployment: Deployment }>();

/**
 * Read and validate a deployment file; throws a message that says how to create it. A file unchanged
 * since the last read (same modification time and size) is not read and validated again: the chat asks
 * on every message, and a redeployment rewrites the file.
 */
export function readDeployment(chainId: number, override?: string): Deployment {
  const file = deploymentFilePath(chainId, override);
  const stat = fs.statSync(/*turbopackIgnore: true*/ file, { throwIfNoEntry: false });
  if (!stat) {
    throw new Error(`No deployment for chain ${chainId}: ${file} is missing. Run \`npm start\` (local) or \`npm run deploy\`.`);
  }
  const known = lastRead.get(file);
  if (known && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return known.deployment;
  const parsed = deploymentSchema.safeParse(JSON.parse(fs.readFileSync(/*turbopackIgnore: true*/ file, "utf8")));
  if (!parsed.success) {
    throw new Error(`${file} is malformed: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  lastRead.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, deployment: parsed.data });
  return parsed.data;
}
