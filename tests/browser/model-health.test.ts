// Model endpoint health in Chromium: a creator listing a model whose endpoint is down is told why first
// and lists it only after confirming; a user opening the chat of an app whose model is down sees it (and
// a Send that is off) before paying anything.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, type Db } from "../../lib/db-client";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { ChatFixtures } from "../helpers/chat-fixtures";
import { STAND_IN_HOST, startStandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const fx = new ChatFixtures(stack);
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";
/** The Development wallet the browser signs in with. */
const devWallet = privateKeyToAccount(ANVIL_KEYS[1] as `0x${string}`);

let browser: Browser;
let db: Db;

/** A port on the stand-ins' address where nothing listens. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, STAND_IN_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  browser = await launchChromium();
  db = createDb(stack.databaseUrl);
});

afterAll(async () => {
  await browser?.close();
  await db?.$disconnect();
});

describe("model endpoint health in the browser", () => {
  it("warns a creator listing a model whose endpoint is down, and lists it once they confirm", async () => {
    const cookie = await fx.signIn(devWallet);
    const created = await fx.post("/api/models", cookie, {
      name: `Unreachable model ${Date.now().toString(36)}`,
      description: "A model whose endpoint is not running.",
      tags: ["test"],
      price: "0.001",
      provider: "openai-compatible",
      baseUrl: `http://${STAND_IN_HOST}:${await closedPort()}/v1`,
      modelName: "m",
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    // A draft's page exists only for its signed-in creator.
    await page.goto(`${stack.appUrl}/create`, { waitUntil: "load" });
    await signInWithDevWallet(page, { waitForAddress: true });
    await page.goto(`${stack.appUrl}/listings/${id}`, { waitUntil: "load" });
    await page.getByTestId("list-button").click();
    const warning = page.getByTestId("list-model-down");
    await warning.waitFor({ state: "visible", timeout: 30_000 });
    expect(await warning.textContent()).toMatch(/This model's endpoint is down right now\.Nothing is listening at that address.*\(ECONNREFUSED\)/);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-list-model-down.png`, fullPage: true });
    // Nothing was sent yet: the draft is still a draft until the creator confirms.
    expect((await db.listing.findUniqueOrThrow({ where: { id } })).status).toBe("draft");
    await page.getByTestId("list-anyway").click();
    await page.getByTestId("listing-listed").waitFor({ state: "visible", timeout: 90_000 });
    expect((await db.listing.findUniqueOrThrow({ where: { id } })).status).toBe("listed");
    expect(errors).toEqual([]);
  });

  it("shows a user that an app's model is down before they pay, with Send off", async () => {
    const standIn = await startStandIn();
    const app = await fx.createApp(db, {
      systemPrompt: "Answer from the passages.",
      prices: { app: 1000n, model: 1000n, datasets: [1000n] },
      datasets: [{ name: "Tides", text: "The tide table is posted at the pilot station each morning." }],
      baseUrl: standIn.url,
    });
    await standIn.stop();
    const probed = await fx.post(`/api/models/${app.model.id}/health`, await fx.signIn(app.creator), {});
    expect(((await probed.json()) as { status: string }).status).toBe("down");

    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1366, height: 900 } });
    await page.goto(`${stack.appUrl}/chat/${app.app.id}`, { waitUntil: "load" });
    const notice = page.getByTestId("model-down");
    await notice.waitFor({ state: "visible" });
    expect(await notice.textContent()).toMatch(/This app's model, “Stand-in model”, is down\..*ECONNREFUSED/);
    expect(await page.getByTestId("model-health").first().getAttribute("data-status")).toBe("down");
    await signInWithDevWallet(page);
    await page.getByTestId("payment-warning").waitFor({ state: "visible", timeout: 30_000 });
    await page.getByLabel("Your question").fill("When is the tide table posted?");
    expect(await page.getByRole("button", { name: "Send" }).isDisabled()).toBe(true);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-model-down.png`, fullPage: true });
    expect(errors).toEqual([]);
  });
});
