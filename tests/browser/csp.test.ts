// Every page under the Content-Security-Policy, in Chromium: signed out and signed in with the
// Development wallet (its modal, signing, charts and the chain reads included), with no CSP violation
// and no page error anywhere, and the security headers on pages and API answers.
import type { Browser, Page } from "playwright-core";
import { createPublicClient, http } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** Records CSP violations as the page reports them (the init script runs outside the page's CSP). */
async function watchViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  return () => page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
}

async function pagesToVisit(): Promise<string[]> {
  const { listings } = (await (await fetch(`${stack.appUrl}/api/listings?kind=app`)).json()) as { listings: { id: string; creator: string; slotId: number }[] };
  const app = listings[0];
  const client = createPublicClient({ transport: http(stack.rpcUrl) });
  let txHash: string | undefined;
  for (let n = await client.getBlockNumber(); n > 0n && !txHash; n--) txHash = (await client.getBlock({ blockNumber: n })).transactions[0];
  return ["/", `/listings/${app.id}`, `/creators/${app.creator}`, "/chat", `/chat/${app.id}`, "/create", "/create/dataset", "/create/model", "/create/app", "/dashboard", `/dashboard/listings/${app.slotId}`, "/protocol", `/tx/${txHash}`];
}

describe("the Content-Security-Policy", () => {
  it("is on every page with a fresh nonce, and the API answers carry the static headers", async () => {
    const first = await fetch(`${stack.appUrl}/`);
    const second = await fetch(`${stack.appUrl}/`);
    const policy = first.headers.get("content-security-policy")!;
    expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
    expect(policy).toMatch(/frame-ancestors 'none'/);
    expect(policy).not.toMatch(/unsafe-eval/);
    expect(policy).toContain(new URL(stack.rpcUrl).origin);
    expect(second.headers.get("content-security-policy")).not.toBe(policy);
    // Next's own scripts carry this response's nonce.
    const nonce = /'nonce-([^']+)'/.exec(policy)![1];
    expect(await first.text()).toContain(`nonce="${nonce}"`);
    for (const response of [first, await fetch(`${stack.appUrl}/api/health`)]) {
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
      expect(response.headers.get("permissions-policy")).toMatch(/camera=\(\)/);
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    }
    // Local http: no HSTS.
    expect(first.headers.get("strict-transport-security")).toBeNull();
  });

  it("lets every page work, signed out and signed in, without a single violation", async () => {
    const paths = await pagesToVisit();
    const { page, errors, consoleLog } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    const violations = await watchViolations(page);
    const found: string[] = [];
    const visit = async (path: string, signedIn: boolean) => {
      await page.goto(`${stack.appUrl}${path}`, { waitUntil: "networkidle" });
      for (const violation of await violations()) found.push(`${signedIn ? "signed in" : "signed out"} ${path}: ${violation}`);
    };
    for (const path of paths) await visit(path, false);
    await page.goto(`${stack.appUrl}/dashboard`, { waitUntil: "networkidle" });
    await signInWithDevWallet(page, { waitForAddress: true });
    // The dashboard's chain reads and charts rendered under the policy.
    await page.getByTestId("payment-token-balance").waitFor({ state: "visible" });
    for (const violation of await violations()) found.push(`signing in: ${violation}`);
    for (const path of paths) await visit(path, true);
    expect(found).toEqual([]);
    expect(consoleLog.filter((line) => /Content Security Policy|Refused to/i.test(line))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
