// Server-side sessions and bound sign-in nonces, over real HTTP against the running app: a cookie copied
// before logout is dead after it (paid chat included), "sign out everywhere" ends every device's session,
// idle and absolute limits hold, tokens rotate within one family, and a nonce fetched by one client is
// useless to another.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";
import { createDb, type Db } from "../../lib/db-client";
import { signInOverHttp } from "../helpers/siwe";

const stack = inject("stack");
let db: Db;

beforeAll(() => {
  db = createDb(stack.databaseUrl);
});

afterAll(async () => {
  await db?.$disconnect();
});

const newAccount = () => privateKeyToAccount(generatePrivateKey());
const signIn = (account: PrivateKeyAccount) => signInOverHttp(stack.appUrl, stack.chainId, account);

async function whoIs(cookie: string): Promise<string | null> {
  const response = await fetch(`${stack.appUrl}/api/auth/session`, { headers: { cookie } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { address: string | null }).address;
}

/** Status of routes that need a session: the conversation list and a paid chat message. */
async function protectedStatuses(cookie: string): Promise<number[]> {
  const list = await fetch(`${stack.appUrl}/api/chat/conversations?appId=any`, { headers: { cookie } });
  const chat = await fetch(`${stack.appUrl}/api/chat`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json" },
    body: JSON.stringify({ conversationId: "c".repeat(24), appId: "a".repeat(25), trigger: "submit-message", message: { id: "m".repeat(24), text: "hello" } }),
  });
  return [list.status, chat.status];
}

describe("sessions end on the server", () => {
  it("refuses a cookie copied before logout, on every route, paid chat included", async () => {
    const account = newAccount();
    const cookie = await signIn(account);
    const copy = cookie;
    expect(await whoIs(cookie)).toBe(account.address);
    const live = await protectedStatuses(cookie);
    expect(live[0]).toBe(200);
    // The chat gets past the sign-in (and refuses the unknown app instead).
    expect(live[1]).not.toBe(401);

    const logout = await fetch(`${stack.appUrl}/api/auth/logout`, { method: "POST", headers: { cookie } });
    expect(logout.status).toBe(204);
    expect(await whoIs(copy)).toBeNull();
    expect(await protectedStatuses(copy)).toEqual([401, 401]);
    // The chat reads its body before the sign-in; a body it refuses is refused as not signed in all the same.
    const malformed = await fetch(`${stack.appUrl}/api/chat`, { method: "POST", headers: { cookie: copy, "content-type": "application/json" }, body: "{" });
    expect(malformed.status).toBe(401);
  });

  it("signs out everywhere: every device's session of the wallet ends, other wallets' do not", async () => {
    const account = newAccount();
    const laptop = await signIn(account);
    const phone = await signIn(account);
    const someoneElse = await signIn(newAccount());
    expect(await whoIs(phone)).toBe(account.address);
    const response = await fetch(`${stack.appUrl}/api/auth/logout?everywhere=1`, { method: "POST", headers: { cookie: laptop } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { revoked: number }).revoked).toBe(2);
    expect(await whoIs(laptop)).toBeNull();
    expect(await whoIs(phone)).toBeNull();
    expect(await protectedStatuses(phone)).toEqual([401, 401]);
    expect(await whoIs(someoneElse)).not.toBeNull();
  });

  it("ends an idle session and one past its absolute limit", async () => {
    const idle = newAccount();
    const idleCookie = await signIn(idle);
    await db.authSession.updateMany({ where: { address: idle.address }, data: { idleExpiresAt: new Date(Date.now() - 1000) } });
    expect(await whoIs(idleCookie)).toBeNull();
    expect(await protectedStatuses(idleCookie)).toEqual([401, 401]);

    const old = newAccount();
    const oldCookie = await signIn(old);
    await db.authSession.updateMany({ where: { address: old.address }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await whoIs(oldCookie)).toBeNull();
    expect(await protectedStatuses(oldCookie)).toEqual([401, 401]);
  });

  it("keeps no usable token in the database", async () => {
    const account = newAccount();
    const cookie = await signIn(account);
    const token = cookie.split("=")[1]!;
    const rows = await db.authSession.findMany({ where: { address: account.address } });
    expect(rows).toHaveLength(1);
    expect(rows[0].id).not.toContain(token);
    expect(rows[0].id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rotates a token that is due: the new one works, the old one only for a short grace, and logout ends both", async () => {
    const account = newAccount();
    const first = await signIn(account);
    // Age the session past SESSION_ROTATE_SECONDS (the test stack sets 60 s).
    await db.authSession.updateMany({ where: { address: account.address }, data: { createdAt: new Date(Date.now() - 3600_000) } });
    const rotated = await fetch(`${stack.appUrl}/api/auth/session`, { headers: { cookie: first } });
    const second = rotated.headers.getSetCookie().find((c) => c.startsWith("kip_session="))?.split(";")[0];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await whoIs(second!)).toBe(account.address);
    // The old token is still accepted for requests already in flight, but no longer than the grace.
    expect(await whoIs(first)).toBe(account.address);
    const rows = await db.authSession.findMany({ where: { address: account.address }, orderBy: { lastSeenAt: "asc" } });
    expect(new Set(rows.map((r) => r.familyId)).size).toBe(1);
    expect(Math.min(...rows.map((r) => r.idleExpiresAt.getTime()))).toBeLessThanOrEqual(Date.now() + 61_000);

    await fetch(`${stack.appUrl}/api/auth/logout`, { method: "POST", headers: { cookie: second! } });
    expect(await whoIs(first)).toBeNull();
    expect(await whoIs(second!)).toBeNull();
  });
});

describe("sign-in nonces are bound to the client that asked for them", () => {
  async function nonceFor(bindingCookie?: string) {
    const response = await fetch(`${stack.appUrl}/api/auth/nonce`, { headers: bindingCookie ? { cookie: bindingCookie } : {} });
    const binding = response.headers.getSetCookie().find((c) => c.startsWith("kip_siwe_client="));
    expect(binding).toMatch(/HttpOnly/i);
    return { nonce: ((await response.json()) as { nonce: string }).nonce, binding: binding!.split(";")[0]! };
  }

  async function verifyWith(account: PrivateKeyAccount, nonce: string, cookie: string | undefined) {
    const now = Date.now();
    const message = createSiweMessage({
      domain: new URL(stack.appUrl).host,
      uri: stack.appUrl,
      address: account.address,
      chainId: stack.chainId,
      nonce,
      version: "1",
      issuedAt: new Date(now),
      expirationTime: new Date(now + 5 * 60_000),
    });
    return fetch(`${stack.appUrl}/api/auth/verify`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ message, signature: await account.signMessage({ message }) }),
    });
  }

  it("refuses A's nonce from a client with no cookie or another client's, and still lets A sign in once", async () => {
    const a = await nonceFor();
    const other = await nonceFor();
    expect(other.binding).not.toBe(a.binding);
    const b = newAccount();
    const stolenBare = await verifyWith(b, a.nonce, undefined);
    expect(stolenBare.status).toBe(401);
    const stolenOther = await verifyWith(b, a.nonce, other.binding);
    expect(stolenOther.status).toBe(401);
    expect(((await stolenOther.json()) as { error: { message: string } }).error.message).toMatch(/issued to another browser/);

    const mine = await verifyWith(newAccount(), a.nonce, a.binding);
    expect(mine.status).toBe(200);
    expect((await verifyWith(newAccount(), a.nonce, a.binding)).status).toBe(401);
  });

  it("re-uses a client's binding across nonces, so two tabs can both sign in", async () => {
    const first = await nonceFor();
    const second = await nonceFor(first.binding);
    expect(second.binding).toBe(first.binding);
    expect((await verifyWith(newAccount(), first.nonce, first.binding)).status).toBe(200);
    expect((await verifyWith(newAccount(), second.nonce, first.binding)).status).toBe(200);
  });
});
