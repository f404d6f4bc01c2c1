// Creating an API key in Chromium with the Development wallet: the dashboard shows the secret once,
// the wallet signs the key's spending session, the key turns active, and an OpenAI client can use it.
import OpenAI from "openai";
import type { Browser } from "playwright-core";
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

describe("API keys in the dashboard", () => {
  it("creates a key, signs its session with the wallet, and the key works with the openai package", async () => {
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.appUrl}/dashboard`, { waitUntil: "networkidle" });
    await signInWithDevWallet(page);
    await page.getByTestId("api-key-form").waitFor({ timeout: 30_000 });
    await page.getByLabel(/^Name/).fill("Browser test key");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.getByTestId("api-key-secret").textContent({ timeout: 30_000 }))!.trim();
    expect(secret).toMatch(/^kip_[A-Za-z0-9_-]{43}$/);
    const row = page.getByTestId("api-key").filter({ hasText: "Browser test key" }).first();
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 30_000 }).toBe("active");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    const client = new OpenAI({ baseURL: `${stack.appUrl}/api/v1`, apiKey: secret, maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
