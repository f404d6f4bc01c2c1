import { describe, expect, it } from "vitest";
import { EnvError, answerTimeLimitMs, devWalletEnabled, isLocalChain, parseServerEnv } from "@/lib/env";

const valid = {
  DATABASE_URL: "postgres://postgres:pw@127.0.0.1:5433/kip",
  SESSION_SECRET: "a".repeat(64),
  ENCRYPTION_KEY: `0x${"1f".repeat(32)}`,
};

/** The EnvError thrown for `source`, or a failure if none is thrown. */
function envError(source: Record<string, string | undefined>): EnvError {
  try {
    parseServerEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError);
    return error as EnvError;
  }
  throw new Error("expected parseServerEnv to throw");
}

describe("parseServerEnv", () => {
  it("applies the local defaults when only the secrets are set", () => {
    const env = parseServerEnv(valid);
    expect(env).toMatchObject({
      NODE_ENV: "development",
      RPC_URL: "http://127.0.0.1:8545",
      CHAIN_ID: 31337,
      DATABASE_URL: "postgres://postgres:pw@127.0.0.1:5433/kip",
      APP_URL: "http://localhost:3000",
      DEV_WALLET: "on",
    });
    expect(env.PUBLIC_RPC_URL).toBeUndefined();
    expect(devWalletEnabled(env)).toBe(true);
  });

  it("cuts answers before the settlement worker would void them", () => {
    expect(answerTimeLimitMs(parseServerEnv(valid))).toBe(300_000);
    expect(answerTimeLimitMs(parseServerEnv({ ...valid, SETTLE_ANSWER_TIMEOUT_MS: "60000" }))).toBe(30_000);
    expect(answerTimeLimitMs(parseServerEnv({ ...valid, ANSWER_TIME_LIMIT_MS: "59000", SETTLE_ANSWER_TIMEOUT_MS: "60000" }))).toBe(59_000);
    const error = envError({ ...valid, ANSWER_TIME_LIMIT_MS: "600000" });
    expect(error.issues.map((i) => i.variable)).toEqual(["ANSWER_TIME_LIMIT_MS"]);
    expect(error.message).toMatch(/ANSWER_TIME_LIMIT_MS must be below SETTLE_ANSWER_TIMEOUT_MS \(600000\)/);
  });

  it("names a missing SESSION_SECRET", () => {
    const error = envError({ ENCRYPTION_KEY: valid.ENCRYPTION_KEY });
    expect(error.issues).toContainEqual({ variable: "SESSION_SECRET", message: "is required" });
    expect(error.message).toMatch(/SESSION_SECRET is required/);
  });

  it("treats an empty value as unset", () => {
    const error = envError({ ...valid, SESSION_SECRET: "" });
    expect(error.issues.map((i) => i.variable)).toEqual(["SESSION_SECRET"]);
  });

  it("rejects a short SESSION_SECRET and says how to make one", () => {
    const error = envError({ ...valid, SESSION_SECRET: "short" });
    expect(error.message).toMatch(/SESSION_SECRET must be at least 32 characters/);
    expect(error.message).toMatch(/openssl rand -hex 32/);
  });

  it("names a malformed ENCRYPTION_KEY", () => {
    for (const bad of ["1f".repeat(32), "0x1234", `0x${"zz".repeat(32)}`]) {
      const error = envError({ ...valid, ENCRYPTION_KEY: bad });
      expect(error.issues).toEqual([
        { variable: "ENCRYPTION_KEY", message: "must be a 0x-prefixed 32-byte hex string" },
      ]);
    }
  });

  it("names a bad RPC_URL, PUBLIC_RPC_URL or APP_URL", () => {
    expect(envError({ ...valid, RPC_URL: "not a url" }).issues).toEqual([
      { variable: "RPC_URL", message: "must be an http(s) URL" },
    ]);
    expect(envError({ ...valid, PUBLIC_RPC_URL: "//no-scheme" }).issues[0]?.variable).toBe("PUBLIC_RPC_URL");
    expect(envError({ ...valid, APP_URL: "::" }).issues[0]?.variable).toBe("APP_URL");
  });

  // Known gap: z.url() accepts any scheme, so "localhost:8545" (scheme "localhost:") and ftp:// pass
  // although the message promises http(s). Fix in lib/env.ts: z.url({ protocol: /^https?$/, ... }).
  // When that lands this test starts passing, and `.fails` must be removed.
  it("rejects URLs that are not http(s)", () => {
    expect(envError({ ...valid, RPC_URL: "localhost:8545" }).issues[0]?.variable).toBe("RPC_URL");
    expect(envError({ ...valid, APP_URL: "ftp://example.com" }).issues[0]?.variable).toBe("APP_URL");
  });

  it("names a DATABASE_URL that is not PostgreSQL, or missing", () => {
    const error = envError({ ...valid, DATABASE_URL: "file:./data/kip.db" });
    expect(error.issues[0]?.variable).toBe("DATABASE_URL");
    expect(error.message).toMatch(/PostgreSQL URL/);
    expect(envError({ ...valid, DATABASE_URL: undefined }).message).toMatch(/DATABASE_URL is required/);
  });

  it("reads TRUSTED_PROXY_HOPS, 0 unless set", () => {
    expect(parseServerEnv(valid).TRUSTED_PROXY_HOPS).toBe(0);
    expect(parseServerEnv({ ...valid, TRUSTED_PROXY_HOPS: "2" }).TRUSTED_PROXY_HOPS).toBe(2);
    expect(envError({ ...valid, TRUSTED_PROXY_HOPS: "-1" }).issues[0]?.variable).toBe("TRUSTED_PROXY_HOPS");
  });

  it("requires SETTLER_PRIVATE_KEY on a non-local chain, and only there", () => {
    const error = envError({ ...valid, CHAIN_ID: "84532" });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.variable).toBe("SETTLER_PRIVATE_KEY");
    expect(error.issues[0]?.message).toMatch(/required on chain 84532/);

    const remote = parseServerEnv({ ...valid, CHAIN_ID: "84532", SETTLER_PRIVATE_KEY: `0x${"ab".repeat(32)}` });
    expect(remote.CHAIN_ID).toBe(84532);
    // Only anvil's 31337 is local by default; another id is local only when LOCAL_CHAIN_IDS names it.
    expect(envError({ ...valid, CHAIN_ID: "1337" }).issues[0]?.variable).toBe("SETTLER_PRIVATE_KEY");
    expect(parseServerEnv({ ...valid, CHAIN_ID: "1337", LOCAL_CHAIN_IDS: "1337, 5777" }).SETTLER_PRIVATE_KEY).toBeUndefined();
    expect(isLocalChain(1337, {})).toBe(false);
    expect(isLocalChain(5777, { LOCAL_CHAIN_IDS: "1337,5777" })).toBe(true);
    expect(envError({ ...valid, LOCAL_CHAIN_IDS: "dev" }).issues[0]?.variable).toBe("LOCAL_CHAIN_IDS");
  });

  it("never enables the development wallet off a local chain", () => {
    const remote = parseServerEnv({ ...valid, CHAIN_ID: "84532", SETTLER_PRIVATE_KEY: `0x${"ab".repeat(32)}`, DEV_WALLET: "on" });
    expect(devWalletEnabled(remote)).toBe(false);
    expect(devWalletEnabled(parseServerEnv({ ...valid, DEV_WALLET: "off" }))).toBe(false);
  });

  it("reports every bad variable at once", () => {
    const error = envError({ CHAIN_ID: "zero", ENCRYPTION_KEY: "nope" });
    const names = error.issues.map((i) => i.variable).sort();
    expect(names).toEqual(expect.arrayContaining(["CHAIN_ID", "ENCRYPTION_KEY", "SESSION_SECRET"]));
  });
});
