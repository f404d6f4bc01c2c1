// The sign-in flow in a real browser: connect the Development wallet through RainbowKit's modal, sign the
// SIWE message, and see the address in the header. Also checks that the page throws nothing and talks
// to nobody but the app and the chain (no WalletConnect relay, no fonts, no analytics).
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWatchedPage } from "../helpers/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const stack = inject("stack");
const DEV_WALLET_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** A page (see openWatchedPage) that also records every request leaving the app and the chain. */
async function openPage(width = 1280, height = 860) {
  const { page, errors } = await openWatchedPage(browser, { viewport: { width, height } });
  const foreignRequests: string[] = [];
  const allowed = new Set([new URL(stack.appUrl).origin, new URL(stack.rpcUrl).origin]);
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith("data:") || url.startsWith("blob:")) return;
    if (!allowed.has(new URL(url).origin)) foreignRequests.push(url);
  });
  return { page, errors, foreignRequests };
}

/** Pick the Development wallet in the open connect modal and sign the message RainbowKit shows next. */
async function chooseDevWalletAndSign(page: Page) {
  // RainbowKit fetches the nonce when "Verify your account" opens, and ignores a click on "Sign message"
  // until it has one, so wait for it.
  const nonce = page.waitForResponse((response) => response.url().endsWith("/api/auth/nonce") && response.ok());
  await page.getByTestId("rk-wallet-option-kipDevWallet").click();
  await nonce;
  await page.getByTestId("rk-auth-message-button").click();
}

async function connectAndSignIn(page: Page) {
  await page.getByTestId("rk-connect-button").first().click();
  await chooseDevWalletAndSign(page);
}

describe("sign in with the Development wallet", () => {
  it("connects, signs the SIWE message and shows the address in the header", async () => {
    const { page, errors, foreignRequests } = await openPage();
    await page.goto(stack.appUrl, { waitUntil: "networkidle" });
    await expect.poll(() => page.getByRole("heading", { name: "Marketplace" }).isVisible()).toBe(true);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-marketplace.png`, fullPage: true });

    await page.getByTestId("rk-connect-button").first().click();
    await page.getByTestId("rk-wallet-option-kipDevWallet").waitFor();
    // Let the modal's fade-in finish for the screenshot.
    await page.waitForFunction(() => document.getAnimations().every((animation) => animation.playState !== "running"));
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-connect-modal.png` });
    await chooseDevWalletAndSign(page);

    const address = page.getByTestId("signed-in-address");
    await address.waitFor({ state: "visible", timeout: 30_000 });
    expect((await address.textContent())?.trim()).toBe(DEV_WALLET_ADDRESS);

    // The session survives a reload (cookie + wagmi reconnect), and the dashboard reads the chain.
    await page.goto(`${stack.appUrl}/dashboard`, { waitUntil: "networkidle" });
    await page.getByTestId("signed-in-address").waitFor({ state: "visible" });
    await page.getByTestId("payment-token-balance").waitFor({ state: "visible", timeout: 30_000 });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-dashboard.png`, fullPage: true });

    const session = await page.evaluate(async () => (await fetch("/api/auth/session")).json());
    expect(session).toEqual({ address: DEV_WALLET_ADDRESS, chainId: stack.chainId });

    expect(errors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });

  it("offers the menu on a phone-sized screen and signs out when the wallet disconnects", async () => {
    const { page, errors, foreignRequests } = await openPage(390, 800);
    await page.goto(stack.appUrl, { waitUntil: "networkidle" });
    await page.getByRole("button", { name: "Open menu" }).click();
    await expect.poll(() => page.getByRole("navigation", { name: "Main (mobile)" }).isVisible()).toBe(true);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-mobile-menu.png` });
    await page.getByRole("navigation", { name: "Main (mobile)" }).getByRole("link", { name: "Chat" }).click();
    await page.waitForURL(`${stack.appUrl}/chat`);

    await connectAndSignIn(page);
    await expect
      .poll(async () => page.evaluate(async () => ((await (await fetch("/api/auth/session")).json()) as { address: string | null }).address))
      .not.toBeNull();

    // Copy the session cookie, as someone with access to the browser could.
    const copied = (await page.context().cookies()).find((c) => c.name === "kip_session");
    expect(copied).toBeDefined();
    const replay = () => fetch(`${stack.appUrl}/api/chat/conversations?appId=any`, { headers: { cookie: `kip_session=${copied!.value}` } }).then((r) => r.status);
    expect(await replay()).toBe(200);

    // Disconnecting the wallet ends the session.
    await page.getByTestId("rk-account-button").click();
    await page.getByTestId("rk-disconnect-button").click();
    await expect
      .poll(async () => page.evaluate(async () => ((await (await fetch("/api/auth/session")).json()) as { address: string | null }).address))
      .toBeNull();
    // The server revoked it: the copied cookie is refused too.
    expect(await replay()).toBe(401);

    expect(errors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });
});
