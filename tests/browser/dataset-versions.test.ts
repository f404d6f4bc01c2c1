// A creator grows a listed dataset in Chromium with the Development wallet: adds a document on the
// dataset's page (resumable upload, indexing), sees "version 2 pending on chain", signs the version's
// metadata hash with setMetadata, sees it on chain (the chain holds that hash), then chats with an app on
// the dataset and gets an answer citing the new document, from version 2. The page works at 390 px.
import type { Browser } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kipAssetsAbi } from "../../lib/chain/generated";
import { createDb, type Db } from "../../lib/db-client";
import { BM25_RETRIEVER } from "../../lib/rag/bm25";
import { indexDocument } from "../../lib/rag/ingest";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { ChatFixtures } from "../helpers/chat-fixtures";

const stack = inject("stack");
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";
const fx = new ChatFixtures(stack);

let browser: Browser;
let db: Db;

beforeAll(async () => {
  browser = await launchChromium();
  db = createDb(stack.databaseUrl);
});

afterAll(async () => {
  await browser?.close();
  await db?.$disconnect();
});

describe("a dataset that grows, in the browser", () => {
  it("adds a document, signs the version on chain and chats with an answer citing it", async () => {
    // A listed dataset of the Development wallet (anvil #1), a free app on it with the offline model.
    const devWallet = privateKeyToAccount(ANVIL_KEYS[1] as `0x${string}`);
    const tag = Date.now().toString(36);
    const dataset = await fx.list(db, devWallet, "dataset", `Canal notes ${tag}`, 0n, async (id) => {
      await db.dataset.create({ data: { listingId: id, embedder: BM25_RETRIEVER, status: "indexing" } });
      const text = "Narrowboats pass the canal locks in pairs; the lock keeper opens the paddles to fill each chamber.";
      await indexDocument(db, id, { filename: "locks.txt", content: new TextEncoder().encode(text) }, stack.env.ENCRYPTION_KEY);
      await db.dataset.update({ where: { listingId: id }, data: { status: "ready" } });
    });
    const model = await fx.list(db, devWallet, "model", `Offline model ${tag}`, 0n, (id) =>
      db.modelEndpoint.create({ data: { listingId: id, provider: "offline", modelName: "kip-offline-extractive-1" } }),
    );
    const app = await fx.list(db, devWallet, "app", `Canal guide ${tag}`, 0n, (id) =>
      db.app.create({ data: { listingId: id, systemPrompt: "Answer from the sources.", modelId: model.id, datasets: { create: [{ datasetId: dataset.id }] } } }),
    );

    // Signed in on a wide screen (the header shows the address), then everything on a phone's width.
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    await page.goto(`${stack.appUrl}/listings/${dataset.id}`, { waitUntil: "load" });
    await signInWithDevWallet(page, { waitForAddress: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload({ waitUntil: "load" });
    const history = page.getByTestId("version-history");
    expect(await history.getByTestId("version-1").getByTestId("version-status").textContent()).toBe("on chain");

    // Add a document: uploaded, indexed, and published as version 2, pending on chain.
    await page.getByLabel("Add documents").setInputFiles([
      {
        name: "towpath.md",
        mimeType: "text/markdown",
        buffer: Buffer.from("# The towpath\n\nHorses once towed the barges along the towpath, which runs beside the canal for eleven miles."),
      },
    ]);
    await page.getByRole("button", { name: "Add to the dataset" }).click();
    const v2 = history.getByTestId("version-2");
    await v2.waitFor({ state: "visible", timeout: 60_000 });
    expect(await v2.getByTestId("version-status").textContent()).toBe("version 2 pending on chain");
    expect(await v2.textContent()).toMatch(/2 documents · added towpath\.md/);
    expect(await page.getByTestId("version-documents").textContent()).toContain("towpath.md");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-dataset-version-pending.png`, fullPage: true });

    // Sign the version's metadata hash on chain from the wallet; the page then shows it on chain.
    await page.getByRole("button", { name: "Sign version 2 on chain" }).click();
    await expect.poll(async () => v2.getByTestId("version-status").textContent(), { timeout: 60_000 }).toBe("on chain");
    const row = await db.datasetVersion.findUniqueOrThrow({ where: { datasetId_number: { datasetId: dataset.id, number: 2 } } });
    const info = await fx.client.readContract({ address: stack.deployment.assets as Address, abi: kipAssetsAbi, functionName: "slotInfo", args: [dataset.slot] });
    expect(info.contentHash).toBe(row.metadataHash);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-dataset-version-on-chain.png`, fullPage: true });

    // Chat with the app: the answer cites the new document, from version 2.
    await page.goto(`${stack.appUrl}/chat/${app.id}`, { waitUntil: "networkidle" });
    await page.getByLabel("Your question").fill("What towed the barges along the towpath?");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.getByTestId("assistant-message").first();
    await answer.getByTestId("sources").waitFor({ timeout: 30_000 });
    await expect.poll(async () => answer.getByTestId("sources").locator("li").first().textContent(), { timeout: 30_000 }).toContain("towpath.md");
    expect(await answer.getByTestId("sources").locator("li").first().getByTestId("source-version").textContent()).toContain("version 2");
    await expect.poll(async () => answer.getByTestId("citation").count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-dataset-version-chat.png`, fullPage: true });

    // Nothing overflows the phone's width on the dataset's page.
    await page.goto(`${stack.appUrl}/listings/${dataset.id}`, { waitUntil: "load" });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
  });
});
