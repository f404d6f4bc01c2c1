// Liveness and readiness: the database answers and the chain answers with the configured chain id.
// Also reports how many queries this server process has sent to the database (the benchmark divides
// the difference by the requests served).
import { NextResponse } from "next/server";
import { createPublicClient, http } from "viem";
import { getDb } from "@/lib/db";
import { databaseRoundTrips } from "@/lib/db-pool";
import { serverEnv } from "@/lib/env";

export const dynamic = "force-dynamic";

export async function GET() {
  const env = serverEnv();
  const checks: Record<string, string> = {};
  let ok = true;
  try {
    await getDb().$queryRaw`SELECT 1`;
    checks.database = "ok";
  } catch (error) {
    ok = false;
    checks.database = `unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
  try {
    const chainId = await createPublicClient({ transport: http(env.RPC_URL, { timeout: 3000, retryCount: 0 }) }).getChainId();
    checks.chain = chainId === env.CHAIN_ID ? "ok" : `wrong chain: ${chainId}, expected ${env.CHAIN_ID}`;
    ok &&= chainId === env.CHAIN_ID;
  } catch {
    ok = false;
    checks.chain = `unreachable at ${env.RPC_URL}`;
  }
  return NextResponse.json({ ok, chainId: env.CHAIN_ID, checks, databaseRoundTrips: databaseRoundTrips() }, { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } });
}
