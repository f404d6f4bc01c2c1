// Creating an API key in Chromium with the Development wallet: the dashboard shows the secret once,
// the wallet signs the key's spending session, the key turns active, and an OpenAI client can use it.
import http from "node:http";
import type { AddressInfo } from "node:net";
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

    // A page of another origin calls the API with the key (preflighted requests: Authorization and a
    // JSON body) and reads the answers: a completion, or (when this wallet has not deposited yet; other
    // browser tests may deposit with it first) a 402 in OpenAI's shape. The same page cannot read a
    // cookie-authorized route.
    const foreign = http.createServer((_request, response) => response.end("<!doctype html><title>Another site</title>"));
    await new Promise<void>((resolve) => foreign.listen(0, "127.0.0.1", resolve));
    try {
      const other = await browser.newPage();
      await other.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
      const fromPage = await other.evaluate(
        async ({ base, key, model }) => {
          const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
          const list = (await (await fetch(`${base}/api/v1/models`, { headers })).json()) as { data: { id: string }[] };
          const response = await fetch(`${base}/api/v1/chat/completions`, {
            method: "POST",
            headers,
            body: JSON.stringify({ model, messages: [{ role: "user", content: "What is this app about?" }] }),
          });
          const body = (await response.json()) as { error?: { type: string; code: string | null }; choices?: { message: { content: string } }[] };
          let cookieRoute: string;
          try {
            await fetch(`${base}/api/chat/account`, { credentials: "include" });
            cookieRoute = "readable";
          } catch {
            cookieRoute = "blocked";
          }
          return { models: list.data.map((m) => m.id), status: response.status, error: body.error, answer: body.choices?.[0]?.message.content, cookieRoute };
        },
        { base: stack.appUrl, key: secret, model: models.data[0].id },
      );
      expect(fromPage.models).toEqual(models.data.map((m) => m.id));
      if (fromPage.status === 200) expect(fromPage.answer?.length).toBeGreaterThan(0);
      else expect([fromPage.status, fromPage.error?.type]).toEqual([402, "insufficient_quota"]);
      expect(fromPage.cookieRoute).toBe("blocked");
      await other.close();
    } finally {
      foreign.close();
    }
  });
});
