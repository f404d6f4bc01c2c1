// Chatting in Chromium with the Development wallet: deposit with a permit, authorize a spending session
// once, ask the seeded Classics Tutor two questions (no wallet pop-up per message), see the sources under
// each answer, watch both charges settle on chain and the page's own check find each record in the
// settlement's calldata. Then a token-metered app whose answer is stopped (charged for what was delivered,
// and still found on chain), and a revoked session that the server refuses.
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, type Db } from "../../lib/db-client";
import { ChatFixtures } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";

let browser: Browser;
let db: Db;
let standIn: StandIn;

beforeAll(async () => {
  browser = await launchChromium();
  db = createDb(stack.databaseUrl);
  // A slow, token-metered model for the stopped answer: 80 words, one every 150 ms.
  standIn = await startStandIn({ reply: () => Array.from({ length: 80 }, (_, i) => `tide${i}`).join(" ") });
  standIn.options.tokenDelayMs = 150;
});

afterAll(async () => {
  await browser?.close();
  await standIn?.stop();
  await db?.$disconnect();
});


async function ask(page: Page, question: string, nth: number) {
  await page.getByLabel("Your question").fill(question);
  await page.getByRole("button", { name: "Send" }).click();
  const answer = page.getByTestId("assistant-message").nth(nth);
  await answer.getByTestId("message-charge").waitFor({ timeout: 30_000 });
  await expect.poll(async () => answer.getByTestId("message-charge").getAttribute("data-status"), { timeout: 30_000 }).not.toBe("answering");
  return answer;
}

describe("chat with a paid app", () => {
  it("deposits, authorizes a session, chats twice with sources, and sees the charges settle", async () => {
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1366, height: 900 } });
    await page.goto(`${stack.appUrl}/chat`, { waitUntil: "networkidle" });
    await page.getByTestId("chat-app-link").filter({ hasText: "Classics Tutor" }).click();
    await page.getByRole("heading", { name: "Classics Tutor" }).waitFor();
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-signed-out.png`, fullPage: true });
    await signInWithDevWallet(page);
    await page.getByTestId("payment-panel").waitFor({ timeout: 30_000 });

    // Deposit 5 mUSD: one permit signature and one transaction, both by the development wallet.
    const prepaid = page.getByTestId("prepaid-balance");
    const before = Number((await prepaid.textContent())!.split(" ")[0]);
    await page.getByLabel(/Amount to deposit/).fill("5");
    await page.getByRole("button", { name: /^Deposit/ }).click();
    await expect.poll(async () => Number((await prepaid.textContent())!.split(" ")[0]), { timeout: 30_000 }).toBe(before + 5);

    // One wallet signature authorizes the session key kept in this browser.
    await page.getByRole("button", { name: "Authorize spending" }).click();
    await page.getByTestId("session-active").waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("message-price").textContent()).toMatch(/Up to 0\.01 mUSD per message/);

    const first = await ask(page, "What does Sun Tzu say about deception in war?", 0);
    expect(await first.getByTestId("sources").locator("li").count()).toBeGreaterThan(0);
    expect(await first.getByTestId("sources").textContent()).toContain("The Art of War");
    expect(await first.getByTestId("citation").count()).toBeGreaterThan(0);
    const second = await ask(page, "What did Lincoln say about the brave men who struggled at Gettysburg?", 1);
    expect(await second.getByTestId("sources").textContent()).toContain("Gettysburg");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-answers.png`, fullPage: true });

    // The settlement worker settles the session's newest voucher; each message shows its settlement
    // transaction and the page's own check: the record hash of what it shows, found in that transaction.
    for (const answer of [first, second]) {
      await expect.poll(async () => answer.getByTestId("message-charge").getAttribute("data-status"), { timeout: 40_000 }).toBe("settled");
      expect(await answer.getByTestId("settlement-tx").textContent()).toMatch(/tx 0x[0-9a-f]{8}/);
      await expect.poll(async () => answer.getByTestId("record-check").getAttribute("data-state"), { timeout: 20_000 }).toBe("found");
      expect(await answer.getByTestId("record-check").textContent()).toMatch(/Recorded on chain/);
    }
    // Pending charges return to zero once settled.
    await expect.poll(async () => page.getByTestId("pending-charges").textContent(), { timeout: 20_000 }).toMatch(/^0 mUSD/);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-settled.png`, fullPage: true });

    // The conversation is in the wallet's history.
    await expect.poll(async () => page.getByTestId("conversation-list").textContent()).toContain("What does Sun Tzu say");

    // A phone-sized screen still shows the conversation and the composer.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-mobile.png`, fullPage: true });
    expect(errors).toEqual([]);

    // A token-metered app: the answer is stopped after a few words, kept, labelled, and charged for what
    // was delivered; it settles and its record is found on chain too (after a reload the page shows the
    // answer as stored).
    await page.setViewportSize({ width: 1366, height: 900 });
    const fx = new ChatFixtures(stack);
    const metered = await fx.createApp(db, {
      systemPrompt: "Answer about the shore.",
      prices: { app: 1_000n, model: 200n, datasets: [300n] },
      datasets: [{ name: "Tide pools", text: "Tide pools hold anemones, hermit crabs and sea stars between the rocks at low tide." }],
      baseUrl: standIn.url,
      tokenPrices: { perKInput: 100n, perKOutput: 2_000n },
    });
    // This device's clock runs five minutes fast from here on: the page dates its vouchers by the server's
    // clock, which admission holds them to (at most a minute ahead).
    await page.clock.setSystemTime(new Date(Date.now() + 5 * 60_000));
    await page.goto(`${stack.appUrl}/chat/${metered.app.id}`, { waitUntil: "networkidle" });
    expect(await page.evaluate(() => Date.now())).toBeGreaterThan(Date.now() + 4 * 60_000);
    await page.getByTestId("session-active").waitFor({ timeout: 30_000 });
    await page.getByLabel("Your question").fill("What lives in tide pools?");
    await page.getByRole("button", { name: "Send" }).click();
    const stopped = page.getByTestId("assistant-message").first();
    await expect.poll(async () => (await stopped.textContent()) ?? "", { timeout: 30_000 }).toMatch(/tide2 /);
    await page.getByRole("button", { name: "Stop" }).click();
    await stopped.getByTestId("answer-stopped").waitFor({ timeout: 15_000 });
    await expect.poll(async () => stopped.getByTestId("message-charge").getAttribute("data-status"), { timeout: 30_000 }).not.toBe("answering");
    await expect.poll(async () => stopped.getByTestId("message-charge").getAttribute("data-status"), { timeout: 40_000 }).toBe("settled");
    expect(await stopped.getByTestId("charge-note").textContent()).toMatch(/^Stopped: the app and 1 of 1 dataset in context in full, the model for the [\d,]+ input and \d+ output tokens streamed/);
    await page.reload({ waitUntil: "networkidle" });
    await page.getByTestId("conversation-list").getByText("What lives in tide pools?").click();
    const reloaded = page.getByTestId("assistant-message").first();
    await reloaded.getByTestId("answer-stopped").waitFor({ timeout: 15_000 });
    await expect.poll(async () => reloaded.getByTestId("record-check").getAttribute("data-state"), { timeout: 20_000 }).toBe("found");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-chat-stopped.png`, fullPage: true });

    // Revoking the session: the server refuses its next voucher at once, and the wallet revokes it on chain.
    await page.getByRole("button", { name: "Revoke this session" }).click();
    await expect.poll(async () => page.getByTestId("tx-status").textContent(), { timeout: 30_000 }).toMatch(/Revoke session: done/);
    await page.getByRole("button", { name: "Authorize spending" }).waitFor({ timeout: 15_000 });
    const revokedOnChain = await db.paymentSession.findMany({ where: { revokedAt: { not: null } } });
    expect(revokedOnChain.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });
});
