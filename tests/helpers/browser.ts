// Browser tests drive Chromium as scripts/browser/chromium.ts launches it.
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { onTestFinished } from "vitest";

export { CHROMIUM_ARGS, launchChromium } from "../../scripts/browser/chromium";

/** Connect the Development wallet through the RainbowKit modal and sign the SIWE message. */
export async function signInWithDevWallet(page: Page, { waitForAddress = false } = {}): Promise<void> {
  const nonce = page.waitForResponse((response) => response.url().endsWith("/api/auth/nonce") && response.ok());
  await page.getByTestId("rk-connect-button").first().click();
  await page.getByTestId("rk-wallet-option-kipDevWallet").click();
  await nonce;
  // Signed in when the server has verified the signed message. A click that lands while RainbowKit is
  // still preparing the message from the nonce (a loaded machine) sends nothing: click again, while the
  // dialog still offers the button, until the message goes out.
  const button = page.getByTestId("rk-auth-message-button");
  for (let attempt = 1; ; attempt++) {
    const verified = page
      .waitForResponse((response) => response.url().endsWith("/api/auth/verify") && response.request().method() === "POST", { timeout: 15_000 })
      .catch(() => null);
    await button.click();
    const response = await verified;
    if (response) {
      if (!response.ok()) throw new Error(`signing in: POST /api/auth/verify answered ${response.status()}`);
      break;
    }
    if (attempt === 3 || !(await button.isVisible())) throw new Error("signing in: the signed message was never sent for verification");
  }
  if (waitForAddress) await page.getByTestId("signed-in-address").waitFor({ state: "visible", timeout: 30_000 });
}

/** Where failed browser tests leave a screenshot and the page's console (KIP_ARTIFACTS_DIR overrides). */
export const ARTIFACTS_DIR = path.resolve(process.env.KIP_ARTIFACTS_DIR ?? "test-artifacts");

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors (a test usually expects none). */
  errors: string[];
  /** Every console message and page error, in order, as "[type] text". */
  consoleLog: string[];
}

/**
 * A new context and page whose console and errors are recorded. Call inside a test: if the test fails,
 * a full-page screenshot and the console log are saved under ARTIFACTS_DIR and their paths printed.
 * The context is closed when the test ends, passed or failed.
 */
export async function openWatchedPage(browser: Browser, options: BrowserContextOptions): Promise<WatchedPage> {
  const context = await browser.newContext(options);
  // Waits end on the awaited event; this bound only stops a hung test (vitest's own limit is 120 s).
  context.setDefaultTimeout(90_000);
  const page = await context.newPage();
  const errors: string[] = [];
  const consoleLog: string[] = [];
  page.on("console", (message) => consoleLog.push(`[${message.type()}] ${message.text()}`));
  page.on("pageerror", (error) => {
    errors.push(`${error.name}: ${error.message}`);
    consoleLog.push(`[pageerror] ${error.name}: ${error.message}`);
  });
  page.on("requestfailed", (request) => consoleLog.push(`[requestfailed] ${request.method()} ${request.url()}: ${request.failure()?.errorText ?? ""}`));
  // One hook, so the screenshot is taken before the context closes (vitest runs onTestFinished hooks
  // before onTestFailed ones).
  onTestFinished(async ({ task }) => {
    if (task.result?.state === "fail") await saveArtifacts(task.file?.name ?? "browser", task.name, page, consoleLog);
    await context.close().catch(() => undefined);
  });
  return { context, page, errors, consoleLog };
}

async function saveArtifacts(file: string, test: string, page: Page, consoleLog: string[]) {
  const name = `${path.basename(file, ".test.ts")}-${test}`.replace(/[^a-z0-9]+/gi, "-").slice(0, 120);
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const screenshot = path.join(ARTIFACTS_DIR, `${name}.png`);
  const log = path.join(ARTIFACTS_DIR, `${name}.console.txt`);
  fs.writeFileSync(log, `${page.url()}\n\n${consoleLog.join("\n")}\n`);
  await page.screenshot({ path: screenshot, fullPage: true, timeout: 10_000 }).catch((error: unknown) => {
    fs.appendFileSync(log, `\n(no screenshot: ${String(error)})\n`);
  });
  process.stdout.write(`[browser] "${test}" failed at ${page.url()}\n  screenshot: ${screenshot}\n  console:    ${log}\n`);
}
