// Browser tests drive Debian's Chromium (/usr/bin/chromium; CHROMIUM_PATH overrides) through playwright-core.
// The background-networking flags keep Chromium from calling out of this offline machine.
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** Connect the Development wallet through the RainbowKit modal and sign the SIWE message. */
export async function signInWithDevWallet(page: Page, { waitForAddress = false } = {}): Promise<void> {
  const nonce = page.waitForResponse((response) => response.url().endsWith("/api/auth/nonce") && response.ok());
  await page.getByTestId("rk-connect-button").first().click();
  await page.getByTestId("rk-wallet-option-kipDevWallet").click();
  await nonce;
  await page.getByTestId("rk-auth-message-button").click();
  if (waitForAddress) await page.getByTestId("signed-in-address").waitFor({ state: "visible", timeout: 30_000 });
}
