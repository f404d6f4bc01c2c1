// The one reader of configuration. Every variable is validated with zod; a missing or malformed
// value fails with a message that names it. Server-only values never reach the browser: the browser
// gets `publicConfig()` (chain id, RPC URL, contract addresses) through the root layout at run time,
// so one build serves any chain.
import { z } from "@/lib/zod";
import { databaseUrlProblem } from "./db-url";

/** Anvil's chain id. Other chains count as local only when LOCAL_CHAIN_IDS names them. */
const ANVIL_CHAIN_ID = 31337;

const hex32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex string");

const secret = z
  .string()
  .min(32, "must be at least 32 characters (generate one with: openssl rand -hex 32)");

const serverSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    /** JSON-RPC endpoint the server uses. */
    RPC_URL: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).default("http://127.0.0.1:8545"),
    /** RPC endpoint handed to browsers (defaults to RPC_URL). */
    PUBLIC_RPC_URL: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
    CHAIN_ID: z.coerce.number().int().positive().default(31337),
    /** Key that deploys contracts on non-local chains; anvil's first account is used locally. */
    DEPLOYER_PRIVATE_KEY: hex32.optional(),
    /** Key of the account that submits receipt batches (the settler). Anvil's account #0 locally. */
    SETTLER_PRIVATE_KEY: hex32.optional(),
    /** PostgreSQL. `npm start` sets it to its embedded server unless it is given. */
    DATABASE_URL: z.string().superRefine((url, ctx) => {
      const problem = databaseUrlProblem(url);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    /** Keys the HMAC under which session tokens and sign-in client bindings are stored. */
    SESSION_SECRET: secret,
    /** A session unused this long ends (seconds). */
    SESSION_IDLE_SECONDS: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
    /** A session ends this long after sign-in, however it is used (seconds). */
    SESSION_MAX_SECONDS: z.coerce.number().int().min(60).max(90 * 86_400).default(7 * 86_400),
    /** The session cookie's token is replaced this often (seconds). */
    SESSION_ROTATE_SECONDS: z.coerce.number().int().min(60).max(90 * 86_400).default(3_600),
    /** 32-byte hex key for AES-256-GCM encryption of model API keys and dataset files at rest. */
    ENCRYPTION_KEY: hex32,
    /** The origin users open, e.g. http://localhost:3000. Sign-in messages must name its host. */
    APP_URL: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).default("http://localhost:3000"),
    /** Offer the built-in development wallet (only ever on a local chain). */
    DEV_WALLET: z.enum(["on", "off"]).default("on"),
    /** Block explorer base URL (e.g. https://sepolia.basescan.org); transactions link to <url>/tx/<hash>. */
    EXPLORER_URL: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
    /** Path of deployments/<chainId>.json (defaults to deployments/<CHAIN_ID>.json). */
    DEPLOYMENTS_FILE: z.string().optional(),
    /** Most receipts the settlement worker puts in one transaction. */
    SETTLE_BATCH_SIZE: z.coerce.number().int().min(1).max(200).default(50),
    /** Milliseconds between the settlement worker's rounds. */
    SETTLE_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
    /** How long a query may stay "answering" before the settlement worker voids it (an answer that never finished). */
    SETTLE_ANSWER_TIMEOUT_MS: z.coerce.number().int().min(1000).max(86_400_000).default(600_000),
    /**
     * Longest an answer may stream (milliseconds). One still streaming then is cut and charged for what was
     * delivered, so it is always stored before the settlement worker would void it. Default: half of
     * SETTLE_ANSWER_TIMEOUT_MS; when set, it must be below it.
     */
    ANSWER_TIME_LIMIT_MS: z.coerce.number().int().min(500).max(86_400_000).optional(),
    /** Chat messages one wallet may send per minute. */
    CHAT_RATE_LIMIT_WALLET: z.coerce.number().int().min(1).default(30),
    /** Chat messages one IP address may send per minute. */
    CHAT_RATE_LIMIT_IP: z.coerce.number().int().min(1).default(120),
    /** Sign-in nonces one client address may fetch per minute. */
    NONCE_RATE_LIMIT_IP: z.coerce.number().int().min(1).default(30),
    /** Model connection tests one wallet may run per minute (a client address: three times as many). */
    MODEL_TEST_RATE_LIMIT_WALLET: z.coerce.number().int().min(1).default(10),
    /** Dataset uploads one wallet may send per minute (a client address: three times as many). */
    UPLOAD_RATE_LIMIT_WALLET: z.coerce.number().int().min(1).default(10),
    /** Requests of resumable uploads (each created upload and each chunk) one wallet may send per minute. */
    UPLOAD_REQUEST_RATE_LIMIT_WALLET: z.coerce.number().int().min(1).default(2000),
    /**
     * Where resumable uploads are staged until a dataset is made from them (one folder per wallet);
     * `npm start` puts it in data/uploads. Abandoned uploads are deleted after a day.
     */
    UPLOAD_DIR: z.string().min(1).default("data/uploads"),
    /** Earnings reads (holders, slots, protocol) one client address may make per minute. */
    EARNINGS_RATE_LIMIT_IP: z.coerce.number().int().min(1).default(240),
    /** Chain ids besides 31337 that count as local development chains (comma list). */
    LOCAL_CHAIN_IDS: z
      .string()
      .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, "must be a comma list of chain ids such as 1337")
      .optional(),
    /**
     * Non-public addresses model endpoints may use: host names, IPs and CIDR ranges (comma list), "*" for
     * any, "none" for none. Unset: any on a local chain, none elsewhere (see lib/net/outbound.ts).
     */
    MODEL_HOSTS_ALLOW: z.string().optional(),
    /**
     * How often each listed model endpoint is probed (GET {baseUrl}/models, lib/models/health.ts), in
     * milliseconds; 0 turns periodic probes off. However many servers share the database, each endpoint is
     * probed at most once per interval.
     */
    MODEL_PROBE_INTERVAL_MS: z.coerce
      .number()
      .int()
      .refine((ms) => ms === 0 || (ms >= 1000 && ms <= 86_400_000), "must be 0 (off) or from 1000 to 86400000")
      .default(60_000),
    /** Most probes one server runs at once. */
    MODEL_PROBE_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
    /** Reverse proxies in front of the app that append to X-Forwarded-For (0: clients connect directly). */
    TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    /** How long a settlement worker's lease lasts without renewal; a standby takes over after it. */
    SETTLE_LEASE_MS: z.coerce.number().int().min(1000).max(600_000).default(15_000),
  })
  .superRefine((env, ctx) => {
    if (env.ANSWER_TIME_LIMIT_MS !== undefined && env.ANSWER_TIME_LIMIT_MS >= env.SETTLE_ANSWER_TIMEOUT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["ANSWER_TIME_LIMIT_MS"],
        message: `must be below SETTLE_ANSWER_TIMEOUT_MS (${env.SETTLE_ANSWER_TIMEOUT_MS}): an answer still streaming when the worker voids it would be given free`,
      });
    }
    if (!isLocalChain(env.CHAIN_ID, env) && !env.SETTLER_PRIVATE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["SETTLER_PRIVATE_KEY"],
        message: `is required on chain ${env.CHAIN_ID} (only local chains fall back to a known anvil key)`,
      });
    }
  });

export type ServerEnv = z.infer<typeof serverSchema>;

/** How long an answer may stream before it is cut (ANSWER_TIME_LIMIT_MS, else half the worker's timeout). */
export function answerTimeLimitMs(env: Pick<ServerEnv, "ANSWER_TIME_LIMIT_MS" | "SETTLE_ANSWER_TIMEOUT_MS">): number {
  return env.ANSWER_TIME_LIMIT_MS ?? Math.floor(env.SETTLE_ANSWER_TIMEOUT_MS / 2);
}

/** Thrown when configuration is missing or malformed; the message names each bad variable. */
export class EnvError extends Error {
  constructor(public readonly issues: { variable: string; message: string }[]) {
    super(
      "Invalid configuration:\n" +
        issues.map((i) => `  - ${i.variable} ${i.message}`).join("\n") +
        "\nSee .env.example for what each variable means.",
    );
    this.name = "EnvError";
  }
}

/** Validate a set of variables (process.env by default). Pure: used by tests and by the start script. */
export function parseServerEnv(source: Record<string, string | undefined> = process.env): ServerEnv {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const result = serverSchema.safeParse(cleaned);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => {
        const variable = String(issue.path[0] ?? "environment");
        const message =
          issue.code === "invalid_type" && cleaned[variable] === undefined ? "is required" : issue.message;
        return { variable, message };
      }),
    );
  }
  return result.data;
}

let cached: ServerEnv | undefined;

/** The validated server environment (cached after the first read). */
export function serverEnv(): ServerEnv {
  cached ??= parseServerEnv();
  return cached;
}

/** Anvil (31337), or a chain LOCAL_CHAIN_IDS names. Local chains allow anvil's public keys and the dev wallet. */
export function isLocalChain(chainId: number, source: Record<string, unknown> = process.env): boolean {
  if (chainId === ANVIL_CHAIN_ID) return true;
  return String(source.LOCAL_CHAIN_IDS ?? "").split(",").some((id) => id.trim() !== "" && Number(id) === chainId);
}

/** The dev wallet is a known anvil key: it exists only on local chains, whatever DEV_WALLET says. */
export function devWalletEnabled(env: ServerEnv = serverEnv()): boolean {
  return env.DEV_WALLET === "on" && isLocalChain(env.CHAIN_ID, env);
}
