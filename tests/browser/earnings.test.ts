// An owner's earnings in a real browser: the Development wallet holds an app's token, queries settle on
// chain, the dashboard shows what they earned, the owner claims it (the wallet's balance moves exactly),
// splits a quarter of the shares to a second wallet, and only revenue settled after the split reaches it.
import type { Browser } from "playwright-core";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kipAssetsAbi } from "../../lib/chain/generated";
import type { HoldingsReport } from "../../lib/chain/reports";
import { TestChain, TestPayer, netOf } from "../helpers/queries";

const stack = inject("stack");
const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
const DEV_WALLET = getAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
const SCREENSHOT_DIR = process.env.KIP_SCREENSHOT_DIR ?? "/tmp";

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});


async function holdings(owner: string): Promise<HoldingsReport> {
  return (await (await fetch(`${stack.appUrl}/api/earnings/holders/${owner}`)).json()) as HoldingsReport;
}

const mUSD = (units: bigint) => `${(Number(units) / 1e6).toString()} mUSD`;

describe("earnings dashboard", () => {
  it("shows earnings after queries settle, claims them, and splits shares that earn only later revenue", async () => {
    // An app listed by a fresh creator whose token is handed to the Development wallet.
    const creator = await chain.freshAccount();
    const app = await chain.list(creator, 2, 20_000n);
    await chain.send(creator, { address: chain.assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [creator.address, DEV_WALLET, app.tokenId] });
    const payer = await TestPayer.create(chain, 1_000_000n);
    await payer.settleQueries(2, [[app.slot, 20_000n]]);
    const earned = netOf(40_000n, stack.deployment.feeBps);

    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    await page.goto(`${stack.appUrl}/dashboard`, { waitUntil: "networkidle" });
    await signInWithDevWallet(page, { waitForAddress: true });

    const card = page.getByTestId(`token-${app.tokenId}`);
    await card.waitFor({ state: "visible", timeout: 30_000 });
    await expect.poll(() => card.getByTestId("token-claimable").textContent()).toBe(mUSD(earned));
    expect(await card.getByTestId("token-queries").textContent()).toBe("2");
    expect(await card.getByTestId("token-shares").textContent()).toContain("1,000,000");
    await card.getByRole("table").waitFor();
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-earnings-dashboard.png`, fullPage: true });

    // Claim: pending → mined, and the moment the card says so its figures are the chain's after the
    // claim (the mined message never sits beside the figures from before it).
    const before = await chain.usdBalance(DEV_WALLET);
    await card.getByRole("button", { name: `Claim ${mUSD(earned)}` }).click();
    await card.locator('[data-testid="tx-status"][data-status="mined"]').waitFor();
    expect(await card.getByTestId("token-claimable").textContent()).toBe("0 mUSD");
    expect(await card.getByTestId("token-earned").textContent()).toBe(mUSD(earned));
    expect(await page.getByTestId("total-claimable").textContent()).toBe("0 mUSD");
    expect((await chain.usdBalance(DEV_WALLET)) - before).toBe(earned);
    expect(await chain.claimable(app.tokenId)).toBe(0n);

    // Split a quarter of the shares to a second wallet.
    const second = await chain.freshAccount();
    await card.getByRole("button", { name: "Transfer shares" }).click();
    const form = card.getByRole("form", { name: `Transfer shares of token ${app.tokenId}` });
    await form.getByLabel("Recipient address").fill(second.address);
    await form.getByLabel(/Shares to send/).fill("250000");
    await expect.poll(() => form.getByText("25 % of the asset's revenue from now on.").isVisible()).toBe(true);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-earnings-split.png`, fullPage: true });
    await form.getByRole("button", { name: "Send shares" }).click();
    await form.locator('[data-testid="tx-status"][data-status="mined"]').waitFor();
    expect(await card.getByTestId("token-shares").textContent()).toContain("750,000");

    const secondToken = (await holdings(second.address)).tokens;
    expect(secondToken.map((t) => [t.shares, t.claimable])).toEqual([["250000", "0"]]);

    // A later query: the dashboard refreshes on the new block; the second wallet gets only its quarter.
    await payer.settleQueries(1, [[app.slot, 20_000n]]);
    const later = netOf(20_000n, stack.deployment.feeBps);
    const ownerShare = (later * 750_000n) / 1_000_000n;
    const secondShare = (later * 250_000n) / 1_000_000n;
    await expect.poll(() => card.getByTestId("token-claimable").textContent(), { timeout: 30_000 }).toBe(mUSD(ownerShare));
    expect(await chain.claimable(app.tokenId)).toBe(ownerShare);
    const secondAfter = (await holdings(second.address)).tokens[0];
    expect(secondAfter.claimable).toBe(secondShare.toString());
    expect(await chain.claimable(BigInt(secondAfter.tokenId))).toBe(secondShare);
    expect(secondAfter.totalEarned).toBe(secondShare.toString());
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-earnings-after-split.png`, fullPage: true });

    // The protocol page and the creator view render from the chain too.
    await page.goto(`${stack.appUrl}/protocol`, { waitUntil: "networkidle" });
    await page.getByTestId("protocol-queries").waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-protocol.png`, fullPage: true });
    await page.goto(`${stack.appUrl}/dashboard/listings/${app.slot}`, { waitUntil: "networkidle" });
    await expect.poll(() => page.getByTestId("slot-queries").textContent(), { timeout: 30_000 }).toBe("3");
    await page.screenshot({ path: `${SCREENSHOT_DIR}/kip-listing-earnings.png`, fullPage: true });

    expect(errors).toEqual([]);
  });
});
