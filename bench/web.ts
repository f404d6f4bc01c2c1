// Page weight and chain data on screen: `npx tsx bench/web.ts` (part of `npm run bench`).
// Starts the whole stack as bench/chat.ts does (embedded PostgreSQL, anvil, contracts, `next start`; the
// demo data seeded, plus a few settled queries so the dashboard and protocol figures are not zero), then
// loads each page in headless Chromium, every load in a fresh browser context (cold cache):
//   firstLoadJsGzKb: the same-origin JavaScript files the page fetched before its load event, each body
//     gzipped here (zlib level 6, as `next start` compresses) and summed, so the figure does not depend on
//     the encoding the browser and server agree on. `jsAtIdleGzKb` adds what was fetched until the network
//     went idle (code split off and loaded right after load would show there).
//   dataVisibleMs: from navigation start (performance.timeOrigin) to the first animation frame in which
//     every chain figure of the page is in the document and rendered, signed in (a SIWE session cookie of
//     the demo app developer, who holds the app's token and earned from the settled queries).
// Each page is loaded signed out and signed in, LOADS times each after one warm-up load; the results
// give the worst load (the figure checked against the target) and the best.
// KIP_BENCH_SKIP_BUILD=1 reuses the existing .next build. Writes bench/results/web.json; exits non-zero
// if a target is missed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { launchChromium } from "../scripts/browser/chromium";
import { DEMO_ACCOUNTS } from "../scripts/seed/demo";
import { startStack } from "../scripts/stack";
import { freePort } from "../scripts/stack/process";
import { privateKeyToAccount } from "viem/accounts";
import { ChatFixtures } from "../tests/helpers/chat-fixtures";
import { TestChain, TestPayer } from "../tests/helpers/queries";

const ROOT = path.resolve(import.meta.dirname, "..");
const LOADS = Number(process.env.BENCH_WEB_LOADS ?? 4);
const TARGETS = {
  firstLoadJsGzKb: { marketplace: 200, asset: 200, creator: 200, chat: 350, dashboard: 350 },
  dataVisibleMs: { dashboard: 500, protocol: 500 },
};
type JsPage = keyof typeof TARGETS.firstLoadJsGzKb;
type DataPage = keyof typeof TARGETS.dataVisibleMs;

/** What one load of a page measured. */
interface Load {
  jsGzBytes: number;
  jsBytes: number;
  jsAtIdleGzBytes: number;
  scripts: number;
  /** Milliseconds from navigation start until every figure was rendered (null: the page has none to wait for). */
  visibleMs: number | null;
  /** Milliseconds from navigation start to the first byte of the page's HTML (the server's part). */
  firstByteMs: number;
  /** Each script fetched before load: path and gzipped bytes (printed with BENCH_WEB_LIST=1). */
  list: [string, number][];
}

/**
 * Runs in the page before its own scripts: on every animation frame, checks whether each selector matches
 * a rendered element with text, and records performance.now() (milliseconds since navigation start) the
 * first time all of them do. A string, not a function: tsx would wrap a function's inner functions in
 * helpers that do not exist in the page.
 */
function watchFigures(selectors: string[]): string {
  return `(() => {
    const selectors = ${JSON.stringify(selectors)};
    const check = () => {
      const all = selectors.every((selector) => {
        const element = document.querySelector(selector);
        return element !== null && element.getClientRects().length > 0 && (element.textContent || "").trim() !== "";
      });
      if (all) window.__figuresAt = performance.now();
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  })();`;
}

async function loadOnce(browser: Browser, url: string, cookie: string | null, figures: string[]): Promise<Load> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    if (cookie) {
      const [name, value] = cookie.split("=");
      await context.addCookies([{ name, value, url: new URL(url).origin }]);
    }
    const page = await context.newPage();
    const origin = new URL(url).origin;
    const bodies = new Map<string, Promise<Buffer | null>>();
    let loaded = false;
    const atLoad = new Set<string>();
    page.on("response", (response) => {
      if (response.request().resourceType() !== "script" || new URL(response.url()).origin !== origin) return;
      if (bodies.has(response.url())) return;
      if (!loaded) atLoad.add(response.url());
      bodies.set(response.url(), response.body().catch(() => null));
    });
    if (figures.length) await page.addInitScript(watchFigures(figures));
    await page.goto(url, { waitUntil: "load", timeout: 60_000 });
    loaded = true;
    await page.waitForLoadState("networkidle", { timeout: 60_000 });
    let visibleMs: number | null = null;
    if (figures.length) {
      await page.waitForFunction(() => (window as unknown as { __figuresAt?: number }).__figuresAt !== undefined, undefined, { timeout: 60_000 }).catch(async (error: unknown) => {
        const text = await page.locator("main").innerText().catch(() => "(no main)");
        throw new Error(`${url}: ${figures.join(", ")} never showed; the page said:\n${text.slice(0, 2000)}`, { cause: error });
      });
      visibleMs = await page.evaluate(() => (window as unknown as { __figuresAt: number }).__figuresAt);
    }
    const firstByteMs = await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).responseStart);
    let jsGzBytes = 0;
    let jsBytes = 0;
    let jsAtIdleGzBytes = 0;
    const list: [string, number][] = [];
    for (const [scriptUrl, body] of bodies) {
      const bytes = await body;
      if (!bytes) throw new Error(`no body for ${scriptUrl}`);
      const gz = gzipSync(bytes, { level: 6 }).length;
      jsAtIdleGzBytes += gz;
      if (atLoad.has(scriptUrl)) {
        jsGzBytes += gz;
        jsBytes += bytes.length;
        list.push([new URL(scriptUrl).pathname, gz]);
      }
    }
    return { jsGzBytes, jsBytes, jsAtIdleGzBytes, scripts: atLoad.size, visibleMs, firstByteMs, list };
  } finally {
    await context.close();
  }
}

const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-bench-web-"));
  const appPort = await freePort();
  console.log("starting the stack (anvil, contracts, demo data, next build + start)…");
  const stack = await startStack({
    mode: "start",
    appPort,
    anvilPort: await freePort(),
    dataDir,
    deploymentFile: path.join(dataDir, "deployment.json"),
    persistChain: false,
    seed: true,
    build: process.env.KIP_BENCH_SKIP_BUILD !== "1",
    // The queries below are settled by anvil #0 directly; no worker races it for nonces.
    settle: false,
    env: { APP_URL: `http://localhost:${appPort}`, RPC_URL: undefined, DATABASE_URL: undefined, CHAIN_ID: undefined },
    log: (line) => console.log(`  ${line}`),
  });
  let browser: Browser | undefined;
  try {
    const listings = async (kind: string) =>
      ((await (await fetch(`${stack.appUrl}/api/listings?kind=${kind}&limit=50`)).json()) as { listings: { id: string; name: string; creator: string; slotId: number }[] }).listings;
    const [app] = await listings("app");
    const [dataset] = await listings("dataset");
    if (!app || !dataset) throw new Error("the demo data has no app or dataset listed");

    // Three settled queries that pay the app and a dataset: the app developer's dashboard then has earnings,
    // an earnings chart and a queries table, and the protocol page has non-zero figures.
    const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
    const payer = await TestPayer.create(chain, 1_000_000n);
    await payer.settleQueries(3, [[BigInt(app.slotId), 20_000n], [BigInt(dataset.slotId), 5_000n]]);

    const developer = privateKeyToAccount(DEMO_ACCOUNTS.appDeveloper);
    const fx = new ChatFixtures({ appUrl: stack.appUrl, rpcUrl: stack.rpcUrl, chainId: stack.chainId, databaseUrl: stack.databaseUrl, deployment: stack.deployment, env: stack.env });
    const cookie = await fx.signIn(developer);

    // The asset and creator pages are another creator's (the dataset's): the signed-in visitor sees the
    // public view, as every visitor but the owner does.
    const pages: { name: JsPage | DataPage; path: string; figures: string[] }[] = [
      { name: "marketplace", path: "/", figures: [] },
      { name: "asset", path: `/listings/${dataset.id}`, figures: [] },
      { name: "creator", path: `/creators/${dataset.creator}`, figures: [] },
      { name: "chat", path: `/chat/${app.id}`, figures: [] },
      { name: "dashboard", path: "/dashboard", figures: ['[data-testid="total-claimable"]', '[data-testid="payment-token-balance"]'] },
      { name: "protocol", path: "/protocol", figures: ['[data-testid="protocol-queries"]'] },
    ];

    browser = await launchChromium();
    const results: Record<string, { signedOut: Load[]; signedIn: Load[] }> = {};
    for (const page of pages) {
      const url = `${stack.appUrl}${page.path}`;
      await loadOnce(browser, url, cookie, page.figures); // warm-up: the server's first render of the route
      const signedOut: Load[] = [];
      const signedIn: Load[] = [];
      for (let i = 0; i < LOADS; i++) {
        signedOut.push(await loadOnce(browser, url, null, []));
        signedIn.push(await loadOnce(browser, url, cookie, page.figures));
      }
      results[page.name] = { signedOut, signedIn };
      console.log(`  ${page.name}: loaded ${LOADS * 2} times`);
      if (process.env.BENCH_WEB_LIST === "1") {
        for (const [script, gz] of signedIn[0].list.sort((a, b) => b[1] - a[1])) console.log(`    ${kb(gz).toString().padStart(7)} kB  ${script}`);
      }
    }

    const all = (name: string) => [...results[name].signedOut, ...results[name].signedIn];
    const worstJs = (name: string) => kb(Math.max(...all(name).map((l) => l.jsGzBytes)));
    const bestJs = (name: string) => kb(Math.min(...all(name).map((l) => l.jsGzBytes)));
    const visible = (name: string) => results[name].signedIn.map((l) => l.visibleMs!);
    const jsPages = Object.keys(TARGETS.firstLoadJsGzKb) as JsPage[];
    const dataPages = Object.keys(TARGETS.dataVisibleMs) as DataPage[];
    const result = {
      firstLoadJsGzKb: Object.fromEntries(jsPages.map((name) => [name, worstJs(name)])),
      dataVisibleMs: Object.fromEntries(dataPages.map((name) => [name, round1(Math.max(...visible(name)))])),
      best: {
        firstLoadJsGzKb: Object.fromEntries(jsPages.map((name) => [name, bestJs(name)])),
        dataVisibleMs: Object.fromEntries(dataPages.map((name) => [name, round1(Math.min(...visible(name)))])),
      },
      dataVisibleMsEachLoad: Object.fromEntries(dataPages.map((name) => [name, visible(name).map(round1)])),
      firstByteMsEachLoad: Object.fromEntries(dataPages.map((name) => [name, results[name].signedIn.map((l) => round1(l.firstByteMs))])),
      firstLoadJsKb: Object.fromEntries(jsPages.map((name) => [name, kb(Math.max(...all(name).map((l) => l.jsBytes)))])),
      jsAtIdleGzKb: Object.fromEntries([...jsPages, "protocol"].map((name) => [name, kb(Math.max(...all(name).map((l) => l.jsAtIdleGzBytes)))])),
      scriptsAtLoad: Object.fromEntries(jsPages.map((name) => [name, Math.max(...all(name).map((l) => l.scripts))])),
      targets: TARGETS,
      loadsPerPage: { signedOut: LOADS, signedIn: LOADS },
      cpus: os.cpus().length,
      measuredAt: new Date().toISOString(),
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "web.json"), `${JSON.stringify(result, null, 2)}\n`);

    const rows: [string, string, string, string, boolean][] = [
      ...jsPages.map((name): [string, string, string, string, boolean] => [
        `first-load JS, ${name} (kB gz)`,
        String(result.firstLoadJsGzKb[name]),
        String(result.best.firstLoadJsGzKb[name]),
        `<= ${TARGETS.firstLoadJsGzKb[name]}`,
        result.firstLoadJsGzKb[name] <= TARGETS.firstLoadJsGzKb[name],
      ]),
      ...dataPages.map((name): [string, string, string, string, boolean] => [
        `chain data visible, ${name} (ms)`,
        String(result.dataVisibleMs[name]),
        String(result.best.dataVisibleMs[name]),
        `<= ${TARGETS.dataVisibleMs[name]}`,
        result.dataVisibleMs[name] <= TARGETS.dataVisibleMs[name],
      ]),
    ];
    console.log(`\nPages in headless Chromium, cold cache, ${LOADS} loads signed out and ${LOADS} signed in per page.\n`);
    console.log(`${"".padEnd(38)}${"worst".padStart(8)}${"best".padStart(8)}   target`);
    for (const [name, worst, best, target, ok] of rows) console.log(`${name.padEnd(38)}${worst.padStart(8)}${best.padStart(8)}   ${target}${ok ? "" : "   MISSED"}`);
    console.log("\nwrote bench/results/web.json");
    if (rows.some(([, , , , ok]) => !ok)) process.exitCode = 1;
  } finally {
    await browser?.close();
    await stack.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
