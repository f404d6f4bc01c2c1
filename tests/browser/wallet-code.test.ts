// The marketplace, asset and creator pages load no wallet or chain code (wagmi, RainbowKit, viem's
// clients), signed out or signed in, until Connect is clicked; the click then loads RainbowKit and its
// modal opens. Each script the page fetches is searched for strings only that code contains, and the
// click shows the same search finds them once they load.
import type { Browser, Page } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, openWatchedPage } from "../helpers/browser";
import { signInOverHttp } from "../helpers/siwe";

const stack = inject("stack");

/** Strings of the wallet code: RainbowKit's root attribute, wagmi's context errors, @wagmi/core's and viem's errors. */
const WALLET_CODE = [
  { library: "RainbowKit", marker: '"data-rk"' },
  { library: "wagmi", marker: "WagmiProvider" },
  { library: "@wagmi/core", marker: "Connector not connected" },
  { library: "viem", marker: "viem@" },
];

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** Records the body of every same-origin script the page fetches, by URL. */
function recordScripts(page: Page): Map<string, Promise<string>> {
  const scripts = new Map<string, Promise<string>>();
  const origin = new URL(stack.appUrl).origin;
  page.on("response", (response) => {
    if (response.request().resourceType() !== "script" || new URL(response.url()).origin !== origin || scripts.has(response.url())) return;
    scripts.set(
      response.url(),
      response.text().catch(() => ""),
    );
  });
  return scripts;
}

/** Which wallet libraries the recorded scripts contain, as "library in /path". */
async function walletCodeIn(scripts: Map<string, Promise<string>>): Promise<string[]> {
  const found: string[] = [];
  for (const [url, body] of scripts) {
    const text = await body;
    for (const { library, marker } of WALLET_CODE) if (text.includes(marker)) found.push(`${library} in ${new URL(url).pathname}`);
  }
  return found;
}

async function visitedPaths(): Promise<string[]> {
  const { listings } = (await (await fetch(`${stack.appUrl}/api/listings?kind=dataset&limit=1`)).json()) as { listings: { id: string; creator: string }[] };
  expect(listings.length, "a listed dataset to visit").toBeGreaterThan(0);
  return ["/", `/listings/${listings[0].id}`, `/creators/${listings[0].creator}`];
}

describe("pages that only show listings load no wallet code", () => {
  it("signed out and signed in, until Connect is clicked", async () => {
    const paths = await visitedPaths();
    // A visitor's session: the header then shows the signed-in address, still without wallet code.
    const cookie = (await signInOverHttp(stack.appUrl, stack.chainId, privateKeyToAccount(generatePrivateKey()))).split("=");
    for (const signedIn of [false, true]) {
      const { page, context, errors } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
      if (signedIn) await context.addCookies([{ name: cookie[0], value: cookie[1], url: stack.appUrl }]);
      const scripts = recordScripts(page);
      for (const path of paths) {
        await page.goto(`${stack.appUrl}${path}`, { waitUntil: "networkidle" });
        expect(await walletCodeIn(scripts), `${signedIn ? "signed in" : "signed out"} ${path}`).toEqual([]);
      }
      expect(errors).toEqual([]);
      await context.close();
    }

    // The first click on Connect loads the wallet code, and the modal opens with the wallets.
    const { page } = await openWatchedPage(browser, { viewport: { width: 1280, height: 900 } });
    const scripts = recordScripts(page);
    await page.goto(stack.appUrl, { waitUntil: "networkidle" });
    expect(await walletCodeIn(scripts)).toEqual([]);
    await page.getByTestId("rk-connect-button").first().click();
    await page.getByTestId("rk-wallet-option-kipDevWallet").waitFor({ state: "visible" });
    const loaded = (await walletCodeIn(scripts)).map((hit) => hit.split(" in ")[0]);
    expect([...new Set(loaded)].sort()).toEqual(["@wagmi/core", "RainbowKit", "viem", "wagmi"]);
  });
});
