import type { Deployment } from "../../lib/chain/deployment";

/** What the global setup hands to integration and browser tests: `inject("stack")`. */
export interface StackInfo {
  appUrl: string;
  rpcUrl: string;
  chainId: number;
  databaseUrl: string;
  deployment: Deployment;
  /** The environment the app runs with (includes generated secrets; test use only). */
  env: Record<string, string>;
}

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}
