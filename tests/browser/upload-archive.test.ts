// A creator uploads a zip of pages (with one bad entry) through the dataset form: each file shows its
// own upload progress, the refused entry is named, and the draft is indexed.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { makeZip } from "../helpers/archives";

const stack = inject("stack");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("uploading an archive through the form", () => {
  it("shows progress per file, names the refused entry and indexes the rest", async () => {
    const { page } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    await page.goto(`${stack.appUrl}/create/dataset`, { waitUntil: "load" });
    await signInWithDevWallet(page, { waitForAddress: true });
    const pages = Array.from({ length: 40 }, (_, i) => ({ name: `manual/page-${String(i).padStart(2, "0")}.txt`, content: `Page ${i}: the ferry leaves pier ${i} at ${i}:15.` }));
    const zip = await makeZip([...pages, { name: "xx/evil.txt", rawName: "../evil.txt", content: "no" }]);
    await page.locator("#files").setInputFiles([
      { name: "manual.zip", mimeType: "application/zip", buffer: Buffer.from(zip) },
      { name: "cover.md", mimeType: "text/markdown", buffer: Buffer.from("# Ferry manual\n\nTimetables for every pier.") },
    ]);
    await expect.poll(() => page.getByTestId("selected-file").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")))).toEqual(["ok", "ok"]);
    await page.getByLabel(/^Name\b/).fill(`Ferry manual ${Date.now().toString(36)}`);
    await page.getByLabel(/^Description\b/).fill("Pier timetables, one page per pier.");
    await page.getByLabel(/^Price per query/).fill("0.001");
    await page.getByLabel("License").fill("CC0");
    await page.getByTestId("create-dataset").click();
    // Each row reports its own upload, ending as uploaded.
    await expect
      .poll(() => page.getByTestId("file-progress").evaluateAll((cells) => cells.map((c) => c.getAttribute("data-state"))))
      .toEqual(["uploaded", "uploaded"]);
    await page.getByTestId("refused-documents").waitFor({ state: "visible", timeout: 30_000 });
    expect(await page.getByTestId("refused-document").allTextContents()).toEqual([expect.stringMatching(/manual\.zip\/\.\.\/evil\.txt: .*climbs out/)]);
    await page.getByTestId("go-to-draft").click();
    await page.waitForURL(/\/listings\/[a-z0-9]+$/, { timeout: 30_000 });
    await page.getByTestId("indexing-done").waitFor({ state: "visible", timeout: 30_000 });
  });
});
