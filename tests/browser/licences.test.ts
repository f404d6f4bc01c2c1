// Buying a licence in Chromium at 390 px with the Development wallet: the model's page shows the terms, the
// price in token units and the files with their sizes and SHA-256; the wallet approves and buys on chain; the
// page then downloads a file, hashes it in the browser, compares it with the commitment it reads from the
// chain, and says the check passed. The downloaded file itself is hashed here too. A page whose server shows
// other terms than the chain's, or a price below the chain's, buys nothing, and bytes that fail the check
// are never saved.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import type { Browser } from "playwright-core";
import { erc20Abi, getAddress, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { kipLicencesAbi } from "@/lib/chain/generated";
import { createDb, type Db } from "@/lib/db-client";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";
import { draftVersion, listModel, publishVersion, uploadWhole, type LicenceDraft } from "../helpers/licences";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { TestChain } from "../helpers/queries";
import { signInOverHttp } from "../helpers/siwe";

const stack = inject("stack");
const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
const DEV_WALLET = getAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
const weights = randomBytes(1024 * 1024 + 777);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let browser: Browser;
let listingId = "";
let slot = 0n;

beforeAll(async () => {
  browser = await launchChromium();
  const creator = await chain.freshAccount();
  const cookie = await signInOverHttp(stack.appUrl, stack.chainId, creator);
  ({ listingId, slot } = await listModel(stack, chain, creator, cookie, "Model with downloadable weights"));
  const drafted = await draftVersion(stack.appUrl, cookie, listingId, {
    terms: "Non-commercial research use. Cite the model card.",
    price: "3.25",
    upgradePrice: "0",
    files: [{ upload: await uploadWhole(stack.appUrl, cookie, "weights.bin", weights) }, { upload: await uploadWhole(stack.appUrl, cookie, "README.md", Buffer.from("# Weights\n")) }],
  });
  if (drafted.status !== 201) throw new Error(JSON.stringify(drafted.body));
  await publishVersion(stack.appUrl, chain, creator, cookie, listingId, drafted.body as unknown as LicenceDraft);
});

afterAll(async () => {
  await browser?.close();
  await db?.$disconnect();
});

let db: Db;

describe("licences in the browser", () => {
  it("buys a licence with the wallet and downloads a file whose hash matches the chain's commitment", async () => {
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 390, height: 844 }, acceptDownloads: true });
    await page.goto(`${stack.appUrl}/listings/${listingId}`, { waitUntil: "networkidle" });
    const version = page.getByTestId("licence-version-1");
    await version.waitFor({ timeout: 30_000 });
    await expect.poll(() => version.getByTestId("licence-price").textContent()).toContain("3.25 mUSD");
    expect(await version.getByTestId("licence-terms").textContent()).toContain("Non-commercial research use");
    expect(await version.textContent()).toContain(sha256(weights));
    expect(await version.textContent()).toContain("1.0 MB");
    expect(await version.textContent()).toContain("Sign in with your wallet to buy a licence.");

    await signInWithDevWallet(page);
    const buy = version.getByRole("button", { name: "Buy version 1 for 3.25 mUSD" });
    await buy.waitFor({ timeout: 30_000 });
    await buy.click();
    await version.getByTestId("licence-held").waitFor({ timeout: 60_000 });
    expect(await chain.read<boolean>(stack.deployment.licences as Address, kipLicencesAbi, "hasLicence", [slot, 1n, DEV_WALLET])).toBe(true);

    const downloaded = page.waitForEvent("download");
    await version.getByRole("button", { name: "Download and check weights.bin" }).click();
    const check = version.getByTestId("hash-check");
    await expect.poll(() => check.getAttribute("data-state"), { timeout: 60_000 }).toBe("passed");
    expect(await check.textContent()).toContain(sha256(weights));
    const file = await downloaded;
    expect(file.suggestedFilename()).toBe("weights.bin");
    expect(sha256(fs.readFileSync((await file.path())!))).toBe(sha256(weights));

    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
  });

  it("lets the creator publish a version from the listing page (upload, sign publishVersion) and change its price", async () => {
    // A listing of the Development wallet's own, so the browser's wallet is its creator.
    const devAccount = privateKeyToAccount(ANVIL_KEYS[1]);
    expect(devAccount.address).toBe(DEV_WALLET);
    const devCookie = await signInOverHttp(stack.appUrl, stack.chainId, devAccount);
    const own = await listModel(stack, chain, devAccount, devCookie, "Dev wallet's model");
    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 390, height: 844 } });
    await page.goto(`${stack.appUrl}/listings/${own.listingId}`, { waitUntil: "networkidle" });
    await signInWithDevWallet(page);
    const form = page.getByRole("form", { name: "Publish a licence version" });
    await form.waitFor({ timeout: 30_000 });
    await form.getByLabel(/^Licence terms/).fill("CC BY-NC 4.0");
    await form.getByLabel(/^Price/).fill("1.5");
    await form.getByLabel(/^Add files/).setInputFiles({ name: "adapter.safetensors", mimeType: "application/octet-stream", buffer: Buffer.from("adapter weights") });
    await form.getByRole("button", { name: "Publish version 1" }).click();
    const version = page.getByTestId("licence-version-1");
    await version.waitFor({ timeout: 60_000 });
    expect(await version.getByTestId("licence-price").textContent()).toContain("1.5 mUSD");
    expect(await version.textContent()).toContain(sha256(Buffer.from("adapter weights")));
    // What the page shows is what the chain holds.
    const committed = await chain.read<{ price: bigint }>(stack.deployment.licences as Address, kipLicencesAbi, "versionOf", [own.slot, 1n]);
    expect(committed.price).toBe(1_500_000n);

    // The creator changes the price on chain; the page shows the chain's new price.
    await page.getByText("Change the prices of version 1").click();
    const prices = page.getByRole("form", { name: "Prices of version 1" });
    await prices.getByLabel(/^Price of version 1/).fill("2");
    await prices.getByRole("button", { name: "Change prices" }).click();
    await expect.poll(() => version.getByTestId("licence-price").textContent(), { timeout: 60_000 }).toContain("2 mUSD");
    expect((await chain.read<{ price: bigint }>(stack.deployment.licences as Address, kipLicencesAbi, "versionOf", [own.slot, 1n])).price).toBe(2_000_000n);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
  });

  it("buys nothing when the page's terms or price are not the chain's, and never saves bytes that fail the check", async () => {
    db = createDb(stack.databaseUrl);
    const creator = await chain.freshAccount();
    const cookie = await signInOverHttp(stack.appUrl, stack.chainId, creator);
    const listed = await listModel(stack, chain, creator, cookie, "Model whose server is not trusted");
    const terms = "Research use only.";
    const drafted = await draftVersion(stack.appUrl, cookie, listed.listingId, {
      terms,
      price: "3",
      upgradePrice: "0",
      files: [{ upload: await uploadWhole(stack.appUrl, cookie, "weights.bin", weights) }, { upload: await uploadWhole(stack.appUrl, cookie, "README.md", Buffer.from("# Read me\n")) }],
    });
    if (drafted.status !== 201) throw new Error(JSON.stringify(drafted.body));
    const published = await publishVersion(stack.appUrl, chain, creator, cookie, listed.listingId, drafted.body as unknown as LicenceDraft);
    const allowance = () => chain.read<bigint>(stack.deployment.paymentToken as Address, erc20Abi, "allowance", [DEV_WALLET, stack.deployment.licences]);
    const allowanceBefore = await allowance();
    const licensed = () => chain.read<boolean>(stack.deployment.licences as Address, kipLicencesAbi, "hasLicence", [listed.slot, 1n, DEV_WALLET]);

    const { page, errors } = await openWatchedPage(browser, { viewport: { width: 390, height: 844 }, acceptDownloads: true });
    const version = page.getByTestId("licence-version-1");
    const problem = version.getByTestId("licence-problem");
    const buy = version.getByRole("button", { name: /^Buy version 1 for/ });

    // The server shows terms other than those committed on chain: the browser refuses before any transaction.
    await db.licenceVersion.update({ where: { id: published.id }, data: { terms: "Any use, including commercial." } });
    await page.goto(`${stack.appUrl}/listings/${listed.listingId}`, { waitUntil: "networkidle" });
    await signInWithDevWallet(page);
    await buy.waitFor({ timeout: 30_000 });
    await buy.click();
    await expect.poll(() => problem.textContent(), { timeout: 30_000 }).toContain("the terms shown do not hash to the terms committed on chain");
    expect(await allowance()).toBe(allowanceBefore);
    expect(await licensed()).toBe(false);

    // The terms are right again, but the creator raised the price after the page was read: nothing is paid.
    await db.licenceVersion.update({ where: { id: published.id }, data: { terms } });
    await page.reload({ waitUntil: "networkidle" });
    await expect.poll(() => version.getByTestId("licence-price").textContent(), { timeout: 30_000 }).toContain("3 mUSD");
    await chain.send(creator, { address: stack.deployment.licences as Address, abi: kipLicencesAbi, functionName: "setVersionPrice", args: [listed.slot, 1n, 4_000_000n, 0n] });
    await buy.click();
    await expect.poll(() => problem.textContent(), { timeout: 30_000 }).toContain("the price on chain is now 4 mUSD, more than the 3 mUSD shown");
    expect(await allowance()).toBe(allowanceBefore);
    expect(await licensed()).toBe(false);

    // At the chain's price it buys.
    await expect
      .poll(
        async () => {
          await page.reload({ waitUntil: "networkidle" });
          return version.getByTestId("licence-price").textContent();
        },
        { timeout: 30_000 },
      )
      .toContain("4 mUSD");
    await buy.click();
    await version.getByTestId("licence-held").waitFor({ timeout: 60_000 });
    expect(await licensed()).toBe(true);

    // Bytes changed on the way: the check fails and the browser saves nothing; the next file, intact, is saved.
    const weightsFile = published.files.find((f) => f.path === "weights.bin")!;
    const tampered = Buffer.from(weights);
    tampered[1000] ^= 0xff;
    await page.route((url) => url.pathname.endsWith(`/files/${weightsFile.id}`), (route) => route.fulfill({ status: 200, contentType: "application/octet-stream", body: tampered }));
    const saved: string[] = [];
    page.on("download", (download) => saved.push(download.suggestedFilename()));
    await version.getByRole("button", { name: "Download and check weights.bin" }).click();
    const checks = version.getByTestId("hash-check");
    await expect.poll(() => checks.first().getAttribute("data-state"), { timeout: 60_000 }).toBe("failed");
    expect(await checks.first().textContent()).toContain(`not the listed ${sha256(weights)}`);
    const next = page.waitForEvent("download");
    await version.getByRole("button", { name: "Download and check README.md" }).click();
    expect((await next).suggestedFilename()).toBe("README.md");
    expect(saved).toEqual(["README.md"]);
    expect(errors).toEqual([]);
  });
});
