// A creator in a real browser: signs in with the Development wallet, lists a dataset (upload, indexing
// progress, listing transaction), a model (offline, with Test connection) and an app built on both
// (price summary), then finds the app in the marketplace and opens its page with the Chat button.
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const stack = inject("stack");
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";
const suffix = Date.now().toString(36);
const DATASET = `Harbour pilot notes ${suffix}`;
const MODEL = `Quoting model ${suffix}`;
const APP = `Harbour assistant ${suffix}`;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});


async function fillCommon(page: Page, values: { name: string; description: string; tags: string; price: string }) {
  await page.getByLabel(/^Name\b/).fill(values.name);
  await page.getByLabel(/^Description\b/).fill(values.description);
  await page.getByLabel("Tags").fill(values.tags);
  await page.getByLabel(/^Price per query/).fill(values.price);
}

/** On a draft's page: send the listing transaction and wait for the server to confirm it. */
async function listOnChain(page: Page) {
  await page.getByTestId("list-button").click();
  // Listed (the form's confirmation, or the listed page itself once the page has refreshed: its holders
  // are read from the slot), or a failure the page shows: fail at once with its words instead of waiting
  // out the timeout.
  const outcome = page.locator('[data-testid="listing-listed"], [data-testid="holders"], [data-testid="list-error"], [data-testid="tx-status"][data-status="failed"]').first();
  await outcome.waitFor({ state: "visible", timeout: 90_000 });
  if (!["listing-listed", "holders"].includes((await outcome.getAttribute("data-testid")) ?? "")) throw new Error(`listing failed: ${await outcome.textContent()}`);
}

describe("a creator lists a dataset, a model and an app, then finds the app", () => {
  it("goes from forms to the marketplace", async () => {
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    // Dataset
    await page.goto(`${stack.appUrl}/create/dataset`, { waitUntil: "load" });
    await expect.poll(() => page.getByText("Sign in to list a dataset").isVisible()).toBe(true);
    await signInWithDevWallet(page, { waitForAddress: true });
    await expect.poll(() => page.getByTestId("upload-limits").textContent()).toMatch(/5,000 documents · 5\.0 MB per document · 200 MB in total/);
    await page.locator("#files").setInputFiles([
      { name: "pilots.md", mimeType: "text/markdown", buffer: Buffer.from("# Harbour pilots\n\nA pilot boards every ship above 80 metres before the breakwater.\n\nThe tide table is posted at the pilot station each morning.") },
      { name: "berths.csv", mimeType: "text/csv", buffer: Buffer.from("berth,depth\nNorth quay,12 m\nSouth quay,9 m\n") },
      // An image named as text: marked as refused when added, and left out of the upload.
      { name: "chart.txt", mimeType: "text/plain", buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]) },
    ]);
    const refused = page.getByTestId("selected-file").filter({ hasText: "chart.txt" });
    await expect.poll(() => refused.getAttribute("data-state")).toBe("refused");
    expect(await refused.getByTestId("file-problem").textContent()).toMatch(/chart\.txt is a PNG image, not a supported document type/);
    await expect.poll(() => page.getByTestId("selected-file").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")))).toEqual(["ok", "ok", "refused"]);
    expect(await page.getByTestId("create-dataset").textContent()).toBe("Upload 2 files and create draft");
    await fillCommon(page, { name: DATASET, description: "Notes for harbour pilots: boarding rules, tides and berths.", tags: "harbour, pilots", price: "0.002" });
    await page.getByLabel("License").fill("CC BY 4.0");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-create-dataset.png`, fullPage: true });
    await page.getByTestId("create-dataset").click();
    await page.waitForURL(/\/listings\/[a-z0-9]+$/, { timeout: 30_000 });
    // Indexing runs on the server: a reload reads its progress from there.
    await page.reload({ waitUntil: "load" });
    await page.getByTestId("indexing-done").waitFor({ state: "visible", timeout: 30_000 });
    expect(await page.getByRole("progressbar", { name: "Indexed" }).getAttribute("aria-valuenow")).toBe("186");
    await page.getByTestId("chunk-preview").waitFor({ state: "visible" });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-dataset-draft.png`, fullPage: true });
    await listOnChain(page);

    // Model (the built-in offline model; Test connection runs it on a sample)
    await page.goto(`${stack.appUrl}/create/model`, { waitUntil: "load" });
    await page.getByRole("radio", { name: /Built-in offline model/ }).check();
    await page.getByTestId("test-connection").click();
    await expect.poll(() => page.getByTestId("test-reply").textContent(), { timeout: 15_000 }).toMatch(/\[1\]/);
    await fillCommon(page, { name: MODEL, description: "Answers by quoting the passages it was given.", tags: "offline", price: "0.003" });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-create-model.png`, fullPage: true });
    await page.getByTestId("create-model").click();
    await page.waitForURL(/\/listings\/[a-z0-9]+$/, { timeout: 30_000 });
    await listOnChain(page);

    // App on both; the summary adds the prices up
    await page.goto(`${stack.appUrl}/create/app`, { waitUntil: "load" });
    await fillCommon(page, { name: APP, description: "Ask about pilots, tides and berths in the harbour.", tags: "harbour", price: "0.004" });
    await page.getByLabel("System prompt").fill("Answer from the harbour notes only and cite them.");
    await page.getByRole("radio", { name: new RegExp(MODEL) }).check();
    await page.getByRole("checkbox", { name: new RegExp(DATASET) }).check();
    await expect.poll(() => page.getByTestId("total-per-query").textContent()).toBe("0.009 mUSD");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-create-app.png`, fullPage: true });
    await page.getByTestId("create-app").click();
    await page.waitForURL(/\/listings\/[a-z0-9]+$/, { timeout: 30_000 });
    const appId = new URL(page.url()).pathname.split("/").pop()!;
    await listOnChain(page);

    // The marketplace finds it; its page shows its parts and the Chat button
    await page.goto(`${stack.appUrl}/`, { waitUntil: "load" });
    await page.getByLabel("Search the marketplace").fill("harbour assistant");
    await page.getByLabel("Kind").selectOption("app");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\?q=harbour\+assistant&kind=app/);
    const card = page.getByTestId("listing-card").filter({ hasText: APP });
    await card.waitFor({ state: "visible" });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-market-search.png`, fullPage: true });
    await card.getByRole("link", { name: APP }).click();
    await page.waitForURL(`${stack.appUrl}/listings/${appId}`);
    await expect.poll(() => page.getByTestId("app-components").textContent()).toContain(MODEL);
    expect(await page.getByTestId("app-components").textContent()).toContain(DATASET);
    expect(await page.getByRole("link", { name: "Chat with this app" }).getAttribute("href")).toBe(`/chat/${appId}`);
    expect(await page.getByTestId("stat-holders").textContent()).toBe("1");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-app-page.png`, fullPage: true });

    expect(errors).toEqual([]);
  });
});
