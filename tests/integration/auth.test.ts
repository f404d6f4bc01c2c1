// Sign-In with Ethereum over real HTTP against the running app (see tests/helpers/global-setup.ts).
import { randomBytes } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { createSiweMessage, type SiweMessage } from "viem/siwe";
import { createDb } from "@/lib/db-client";

const stack = inject("stack");
const app = new URL(stack.appUrl);

type ErrorBody = { error: { code: string; message: string } };

/** This test client's sign-in binding cookie (set with the first nonce; nonces are bound to it). */
let binding = "";

async function getNonce(): Promise<string> {
  const response = await fetch(`${stack.appUrl}/api/auth/nonce`, { headers: binding ? { cookie: binding } : {} });
  expect(response.status).toBe(200);
  const set = response.headers.getSetCookie().find((c) => c.startsWith("kip_siwe_client="));
  if (set) binding = set.split(";")[0]!;
  const { nonce } = (await response.json()) as { nonce: string };
  return nonce;
}

function siweMessage(account: PrivateKeyAccount, nonce: string, overrides: Partial<SiweMessage> = {}): string {
  const now = Date.now();
  return createSiweMessage({
    domain: app.host,
    uri: stack.appUrl,
    address: account.address,
    chainId: stack.chainId,
    nonce,
    version: "1",
    issuedAt: new Date(now),
    expirationTime: new Date(now + 5 * 60_000),
    statement: "Sign in to KIP Marketplace.",
    ...overrides,
  });
}

async function verify(message: string, signature: Hex, headers: Record<string, string> = {}) {
  return fetch(`${stack.appUrl}/api/auth/verify`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: binding, ...headers },
    body: JSON.stringify({ message, signature }),
  });
}

/** Sign a fresh message (with overrides) and post it. */
async function signIn(account: PrivateKeyAccount, overrides: Partial<SiweMessage> = {}) {
  const message = siweMessage(account, overrides.nonce ?? (await getNonce()), overrides);
  const signature = await account.signMessage({ message });
  return { message, signature, response: await verify(message, signature) };
}

async function expectError(response: Response, status: number, code: string, pattern: RegExp) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(pattern);
  expect(response.headers.getSetCookie().some((c) => c.startsWith("kip_session="))).toBe(false);
}

function sessionCookie(response: Response): string {
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("kip_session="));
  if (!cookie) throw new Error("no kip_session cookie was set");
  return cookie;
}

const newAccount = () => privateKeyToAccount(generatePrivateKey());

describe("GET /api/auth/nonce", () => {
  it("returns a fresh 128-bit hex nonce that is never cached", async () => {
    const response = await fetch(`${stack.appUrl}/api/auth/nonce`);
    expect(response.headers.get("cache-control")).toMatch(/no-store/);
    const { nonce } = (await response.json()) as { nonce: string };
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(await getNonce()).not.toBe(nonce);
  });
});

describe("sign in, session, sign out", () => {
  it("signs in, shows the session, and signs out", async () => {
    const account = newAccount();
    const { response } = await signIn(account);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ address: account.address, chainId: stack.chainId });

    const setCookie = sessionCookie(response);
    const cookie = setCookie.split(";")[0]!;
    const session = await fetch(`${stack.appUrl}/api/auth/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(await session.json()).toEqual({ address: account.address, chainId: stack.chainId });

    // The account is recorded.
    const db = createDb(stack.databaseUrl);
    try {
      expect(await db.account.findUnique({ where: { address: account.address }, select: { address: true } })).toEqual({ address: account.address });
    } finally {
      await db.$disconnect();
    }

    const logout = await fetch(`${stack.appUrl}/api/auth/logout`, { method: "POST", headers: { cookie } });
    expect(logout.status).toBe(204);
    const cleared = sessionCookie(logout);
    expect(cleared).toMatch(/^kip_session=;/);
    expect(cleared).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);

    // A browser that applied the logout cookie has no session.
    const after = await fetch(`${stack.appUrl}/api/auth/session`);
    expect(await after.json()).toEqual({ address: null });
  });

  it("sets the cookie HttpOnly, SameSite=Lax, Path=/, for 7 days, and not Secure on http", async () => {
    const { response } = await signIn(newAccount());
    const attributes = sessionCookie(response)
      .split(";")
      .slice(1)
      .map((part) => part.trim().toLowerCase());
    expect(attributes).toContain("httponly");
    expect(attributes).toContain("samesite=lax");
    expect(attributes).toContain("path=/");
    expect(attributes).toContain(`max-age=${7 * 24 * 60 * 60}`);
    expect(app.protocol).toBe("http:");
    expect(attributes).not.toContain("secure");
  });

  it("refuses a state change with the session cookie that another page sent: after a redirect (Origin null) or from a sibling site", async () => {
    const { response } = await signIn(newAccount());
    const cookie = sessionCookie(response).split(";")[0]!;
    const whoAmI = async () => ((await (await fetch(`${stack.appUrl}/api/auth/session`, { headers: { cookie } })).json()) as { address: string | null }).address;
    // A page on another port of this host (or a sibling subdomain) still gets the Lax cookie sent.
    for (const headers of [{ origin: "null" }, { "sec-fetch-site": "same-site" }, { "sec-fetch-site": "cross-site" }] as Record<string, string>[]) {
      const forged = await fetch(`${stack.appUrl}/api/auth/logout?everywhere=1`, { method: "POST", headers: { cookie, ...headers } });
      expect(forged.status).toBe(403);
      expect(await whoAmI()).not.toBeNull();
    }
    // The app's own page (same origin) signs out.
    const own = await fetch(`${stack.appUrl}/api/auth/logout?everywhere=1`, { method: "POST", headers: { cookie, origin: app.origin, "sec-fetch-site": "same-origin" } });
    expect(own.status).toBe(200);
    expect(await whoAmI()).toBeNull();
  });

  it("answers {address: null} (a 200, so browsers log no error) when there is no session", async () => {
    const response = await fetch(`${stack.appUrl}/api/auth/session`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ address: null });
    for (const token of [randomBytes(32).toString("base64url"), randomBytes(48).toString("base64url")]) {
      const forged = await fetch(`${stack.appUrl}/api/auth/session`, { headers: { cookie: `kip_session=${token}` } });
      expect(await forged.json()).toEqual({ address: null });
    }
    // Routes that need a session still answer 401.
    await expectError(await fetch(`${stack.appUrl}/api/chat/conversations`), 401, "unauthorized", /sign in/i);
  });
});

describe("POST /api/auth/verify rejects", () => {
  it("a replayed nonce", async () => {
    const account = newAccount();
    const first = await signIn(account);
    expect(first.response.status).toBe(200);
    const replay = await verify(first.message, first.signature);
    await expectError(replay, 401, "unauthorized", /nonce is unknown, expired, already used/);
  });

  it("a message for another domain, without using up its nonce", async () => {
    const account = newAccount();
    const nonce = await getNonce();
    const wrong = await signIn(account, { nonce, domain: "evil.example" });
    await expectError(wrong.response, 401, "unauthorized", /is for "evil\.example"/);
    // The nonce survived the rejected attempt.
    const right = await signIn(account, { nonce });
    expect(right.response.status).toBe(200);
  });

  it("a message whose URI is on another origin", async () => {
    const { response } = await signIn(newAccount(), { uri: "https://evil.example/login" });
    await expectError(response, 401, "unauthorized", /URI is on "https:\/\/evil\.example"/);
  });

  it("a message for another chain", async () => {
    const { response } = await signIn(newAccount(), { chainId: stack.chainId === 1 ? 5 : 1 });
    await expectError(response, 401, "unauthorized", /for chain \d+, but this app runs on chain/);
  });

  it("an expired message", async () => {
    const now = Date.now();
    const { response } = await signIn(newAccount(), {
      issuedAt: new Date(now - 10 * 60_000),
      expirationTime: new Date(now - 60_000),
    });
    await expectError(response, 401, "unauthorized", /expired/);
  });

  it("a message issued in the future or not valid yet", async () => {
    const now = Date.now();
    const future = await signIn(newAccount(), { issuedAt: new Date(now + 10 * 60_000) });
    await expectError(future.response, 401, "unauthorized", /issued in the future/);
    const early = await signIn(newAccount(), { notBefore: new Date(now + 10 * 60_000) });
    await expectError(early.response, 401, "unauthorized", /not valid yet/);
  });

  it("a signature by another key, or a corrupted one", async () => {
    const account = newAccount();
    const nonce = await getNonce();
    const message = siweMessage(account, nonce);
    const forged = await newAccount().signMessage({ message });
    await expectError(await verify(message, forged), 401, "unauthorized", /signature does not match/);

    const real = await account.signMessage({ message });
    const corrupted = `${real.slice(0, 10)}${real[10] === "0" ? "1" : "0"}${real.slice(11)}` as Hex;
    await expectError(await verify(message, corrupted), 401, "unauthorized", /signature does not match/);

    // Rejections did not consume the nonce: the genuine signature still works once.
    expect((await verify(message, real)).status).toBe(200);
  });

  it("a nonce the server never issued", async () => {
    const { response } = await signIn(newAccount(), { nonce: randomBytes(16).toString("hex") });
    await expectError(response, 401, "unauthorized", /nonce is unknown/);
  });

  it("a contract-wallet signature without a nonce of its own, before asking the chain about it", async () => {
    // Not the address's own signature: the server would ask the chain whether a contract wallet signed
    // it. Without an open nonce issued to this client, it is refused first.
    const message = siweMessage(newAccount(), randomBytes(16).toString("hex"));
    await expectError(await verify(message, `0x${"ab".repeat(4000)}` as Hex), 401, "unauthorized", /nonce is unknown/);
  });

  it("malformed requests with 400 / 415", async () => {
    const notSiwe = await fetch(`${stack.appUrl}/api/auth/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "hello", signature: `0x${"11".repeat(65)}` }),
    });
    await expectError(notSiwe, 400, "bad_request", /not a Sign-In with Ethereum/);

    const badJson = await fetch(`${stack.appUrl}/api/auth/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    await expectError(badJson, 400, "bad_request", /not valid JSON/);

    const badSignature = await verify("x", "0x1234" as Hex);
    await expectError(badSignature, 400, "bad_request", /signature/);

    const text = await fetch(`${stack.appUrl}/api/auth/verify`, { method: "POST", body: "hi" });
    await expectError(text, 415, "unsupported_media_type", /application\/json/);
  });

  it("a sign-in posted from another site's page", async () => {
    const account = newAccount();
    const message = siweMessage(account, await getNonce());
    const signature = await account.signMessage({ message });
    const response = await verify(message, signature, { origin: "https://evil.example" });
    await expectError(response, 403, "forbidden", /evil\.example/);
  });
});
