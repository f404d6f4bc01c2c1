import "server-only";
// The earnings reader wired to the app: its database, its node and its deployment.
import { readDeployment } from "@/lib/chain/deployment";
import type { ReaderContext } from "@/lib/chain/earnings-reader";
import { serverPublicClient } from "@/lib/chain/server-client";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";

export function serverReaderContext(): ReaderContext {
  const env = serverEnv();
  let deployment;
  try {
    deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
  } catch (error) {
    throw new AppError("upstream_unavailable", `The contracts are not deployed on chain ${env.CHAIN_ID}.`, { cause: error });
  }
  return { db: getDb(), client: serverPublicClient(), deployment, appUrl: env.APP_URL };
}
