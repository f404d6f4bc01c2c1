// Chatting with the seeded Classics Tutor in Chromium with the Development wallet: deposit with a permit,
// authorize a spending session once, ask two questions (no wallet pop-up per message), see the sources
// under each answer, and watch both charges settle on chain.
import type { Browser, Page } from "playwright-core";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const stack = inject("stack");
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
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

    // The settlement worker submits both receipts; each message shows its settlement transaction.
    for (const answer of [first, second]) {
      await expect.poll(async () => answer.getByTestId("message-charge").getAttribute("data-status"), { timeout: 40_000 }).toBe("settled");
      expect(await answer.getByTestId("settlement-tx").textContent()).toMatch(/tx 0x[0-9a-f]{8}/);
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
  });
});
