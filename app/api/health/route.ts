// Liveness and readiness: the database answers and the chain answers with the configured chain id.
// Public, so it says only what is up or down: never an error's text, an address or an RPC URL (which often
// carries a provider key). The reasons go to the server's log.
// It also reports how many queries this server process has sent to the database (the benchmark divides
// the difference by the requests served): a count, not configuration.
import { NextResponse } from "next/server";
import { createPublicClient, http } from "viem";
import { getDb } from "@/lib/db";
import { databaseRoundTrips, preparedRoundTrips } from "@/lib/db-pool";
import { serverEnv } from "@/lib/env";

export const dynamic = "force-dynamic";

type Check = "ok" | "down" | "wrong chain";

export async function GET() {
  const env = serverEnv();
  const checks: { database: Check; chain: Check } = { database: "ok", chain: "ok" };
  try {
    await getDb().$queryRaw`SELECT 1`;
  } catch (error) {
    checks.database = "down";
    console.error("health: the database does not answer:", error);
  }
  try {
    const chainId = await createPublicClient({ transport: http(env.RPC_URL, { timeout: 3000, retryCount: 0 }) }).getChainId();
    if (chainId !== env.CHAIN_ID) {
      checks.chain = "wrong chain";
      console.error(`health: the chain reports id ${chainId}, expected ${env.CHAIN_ID}`);
    }
  } catch (error) {
    checks.chain = "down";
    console.error("health: the chain does not answer:", error instanceof Error ? error.message : error);
  }
  const ok = checks.database === "ok" && checks.chain === "ok";
  return NextResponse.json({ ok, chainId: env.CHAIN_ID, checks, databaseRoundTrips: databaseRoundTrips(), preparedRoundTrips: preparedRoundTrips() }, { status: ok ? 200 : 503, headers: { "cache-control": "no-store" } });
}
