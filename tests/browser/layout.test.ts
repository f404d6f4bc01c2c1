// Every page fits a phone: at 390×844, signed out and signed in with the Development wallet, no page is
// wider than the screen (document.documentElement.scrollWidth within the viewport). A page that is too
// wide is reported with the elements that stick out past the right edge, widest first. The signed-in
// chat page also shows a conversation with a very long title (it used to widen the column to 661 px and
// push Send off-screen), its payment panel opened, and the phone menu is measured open.
import type { Browser, Locator, Page } from "playwright-core";
import { createPublicClient, getAddress, http, isAddressEqual, type Hash } from "viem";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb, type Db } from "../../lib/db-client";
import { launchChromium, openWatchedPage, signInWithDevWallet } from "../helpers/browser";

const stack = inject("stack");
const VIEWPORT = { width: 390, height: 844 };
const DEV_WALLET_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/** Words that fit no phone, and a title made of them: the chat page must truncate it. */
const LONG_TITLE = `What did ${"Pericles".repeat(12)} say in the funeral oration about the ${"Athenian".repeat(10)} democracy and its citizens`;

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

type ListingRow = { id: string; name: string; creator: string; slotId: number | null };

async function listed(kind: "app" | "dataset" | "model"): Promise<ListingRow[]> {
  const response = await fetch(`${stack.appUrl}/api/listings?kind=${kind}&limit=200`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { listings: ListingRow[] }).listings;
}

/** A settlement transaction if there is one in the last blocks (its page lists query records), and the newest transaction. */
async function transactionsToShow(): Promise<Hash[]> {
  const client = createPublicClient({ transport: http(stack.rpcUrl) });
  const head = await client.getBlockNumber();
  let newest: Hash | undefined;
  let settlement: Hash | undefined;
  for (let n = head; n > 0n && n + 300n > head && !settlement; n--) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      newest ??= tx.hash;
      if (!settlement && tx.to && isAddressEqual(tx.to, getAddress(stack.deployment.settlement))) settlement = tx.hash;
    }
  }
  return [...new Set([settlement, newest].filter((hash): hash is Hash => Boolean(hash)))];
}

interface Visit {
  path: string;
  /** What shows once the page has its content (signed out / signed in): the page is measured then. */
  ready: (page: Page, signedIn: boolean) => Locator;
  /** Opens what the page hides behind a button on a phone, so it is measured too. */
  expand?: (page: Page, signedIn: boolean) => Promise<void>;
}

async function pagesToVisit(): Promise<{ visits: Visit[]; app: ListingRow }> {
  const apps = await listed("app");
  // The stack seeds the Classics Tutor (scripts/seed/demo.ts); any listed app will do otherwise.
  const app = apps.find((a) => a.name === "Classics Tutor") ?? apps[0];
  expect(app, "a listed app to visit").toBeDefined();
  const [dataset] = await listed("dataset");
  const [model] = await listed("model");
  const heading = (page: Page) => page.locator("main h1").first();
  const assetPage = (listing: ListingRow): Visit => ({ path: `/listings/${listing.id}`, ready: (page) => page.getByTestId("stat-price") });
  const createPage = (path: string, testId: string): Visit => ({
    path,
    ready: (page, signedIn) => (signedIn ? page.getByTestId(testId) : page.getByRole("heading", { name: /^Sign in to list/ })),
  });
  const visits: Visit[] = [
    { path: "/", ready: (page) => page.getByTestId("listing-grid") },
    assetPage(app),
    ...(dataset ? [assetPage(dataset)] : []),
    ...(model ? [assetPage(model)] : []),
    { path: `/creators/${app.creator}`, ready: (page) => page.getByTestId("creator-address") },
    { path: "/chat", ready: (page) => page.getByTestId("chat-app-link").first() },
    {
      path: `/chat/${app.id}`,
      ready: (page, signedIn) => (signedIn ? page.getByTestId("conversation-list").getByText(LONG_TITLE) : page.getByRole("heading", { name: "Sign in to chat" })),
      expand: async (page, signedIn) => {
        if (!signedIn) return;
        // Below lg the balance and session panel is behind a toggle (a paid app; a free one has none).
        const toggle = page.getByRole("button", { name: "Balance and spending session" });
        if (await toggle.isVisible()) {
          await toggle.click();
          await page.getByTestId("payment-panel").waitFor({ state: "visible" });
        }
      },
    },
    { path: "/create", ready: (page, signedIn) => (signedIn ? page.getByRole("heading", { name: "Your listings" }) : page.getByText("Sign in with your wallet to list assets")) },
    createPage("/create/dataset", "upload-limits"),
    createPage("/create/model", "test-connection"),
    createPage("/create/app", "price-summary"),
    {
      path: "/dashboard",
      ready: (page, signedIn) => (signedIn ? page.locator("#earnings-heading") : page.getByRole("heading", { name: "Sign in to see your dashboard" })),
      expand: async (page, signedIn) => {
        if (signedIn) await page.getByTestId("payment-token-balance").waitFor({ state: "visible" });
      },
    },
    ...(app.slotId !== null ? [{ path: `/dashboard/listings/${app.slotId}`, ready: (page: Page) => page.getByTestId("slot-queries") }] : []),
    { path: "/protocol", ready: (page) => page.getByTestId("protocol-queries") },
    ...(await transactionsToShow()).map((hash): Visit => ({ path: `/tx/${hash}`, ready: heading })),
  ];
  return { visits, app };
}

interface Overflow {
  scrollWidth: number;
  viewport: number;
  /** The elements past the right edge that nothing clips, widest first. */
  widest: string[];
}

/** Null when the page fits; else how wide it is and what sticks out. Runs in the page. */
function measureOverflow(): Overflow | null {
  const root = document.documentElement;
  // clientWidth leaves out a classic vertical scrollbar: past it the page scrolls sideways.
  const viewport = Math.min(window.innerWidth, root.clientWidth);
  if (root.scrollWidth <= viewport) return null;
  const clips = (element: Element) => {
    const style = getComputedStyle(element);
    return style.position === "fixed" || !["visible", ""].includes(style.overflowX);
  };
  /** Inside a scroll container, a clipping box or a fixed layer, overflow does not widen the page. */
  const contained = (element: Element) => {
    for (let parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) if (clips(parent)) return true;
    return false;
  };
  const describe = (element: Element, right: number) => {
    const id = element.id ? `#${element.id}` : "";
    const testId = element.getAttribute("data-testid");
    const classes = typeof element.className === "string" ? element.className.trim().split(/\s+/).slice(0, 4).join(".") : "";
    const text = (element.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 50);
    return `${element.tagName.toLowerCase()}${id}${testId ? `[data-testid=${testId}]` : ""}${classes ? `.${classes}` : ""} right=${Math.round(right)}px "${text}"`;
  };
  /** Its own text (not a child element's) spills out of its box: an unbreakable word, say. */
  const ownTextRight = (element: Element, rect: DOMRect) => {
    const hasText = [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent?.trim());
    return hasText ? rect.left + window.scrollX + element.scrollWidth : 0;
  };
  const offenders: { element: Element; right: number }[] = [];
  for (const element of document.body.querySelectorAll("*")) {
    const rect = element.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    const right = Math.max(rect.right + window.scrollX, ownTextRight(element, rect));
    if (right <= viewport + 0.5) continue;
    if (getComputedStyle(element).position === "fixed" || contained(element)) continue;
    offenders.push({ element, right });
  }
  offenders.sort((a, b) => b.right - a.right);
  // The outermost offenders say where to look: skip an element whose ancestor is already listed and as wide.
  const shown: { element: Element; right: number }[] = [];
  for (const offender of offenders) {
    if (shown.some((s) => s.element.contains(offender.element) && s.right >= offender.right - 0.5)) continue;
    shown.push(offender);
    if (shown.length === 6) break;
  }
  return { scrollWidth: root.scrollWidth, viewport, widest: shown.map((s) => describe(s.element, s.right)) };
}

/**
 * Measures the page once its content is there. A page still settling (a chart sizing itself) gets a
 * moment to fit, waited for frame by frame; what is still too wide after it is reported.
 */
async function overflowAfterSettling(page: Page): Promise<Overflow | null> {
  await page
    .waitForFunction(() => document.documentElement.scrollWidth <= Math.min(window.innerWidth, document.documentElement.clientWidth), undefined, { polling: "raf", timeout: 3_000 })
    .catch(() => undefined);
  return page.evaluate(measureOverflow);
}

function report(where: string, overflow: Overflow): string {
  return `${where}: ${overflow.scrollWidth} px wide on a ${overflow.viewport} px screen; past the edge: ${overflow.widest.join(" | ") || "(no single element)"}`;
}

async function visitAll(page: Page, visits: Visit[], signedIn: boolean): Promise<string[]> {
  const found: string[] = [];
  const state = signedIn ? "signed in" : "signed out";
  for (const visit of visits) {
    await page.goto(`${stack.appUrl}${visit.path}`, { waitUntil: "networkidle" });
    await visit.ready(page, signedIn).waitFor({ state: "visible" });
    await visit.expand?.(page, signedIn);
    const overflow = await overflowAfterSettling(page);
    if (overflow) found.push(report(`${state} ${visit.path}`, overflow));
  }
  // The phone menu, open: the areas, the network and (signed in) the address.
  await page.goto(`${stack.appUrl}/`, { waitUntil: "networkidle" });
  await page.getByRole("button", { name: "Open menu" }).click();
  await page.getByRole("navigation", { name: "Main (mobile)" }).waitFor({ state: "visible" });
  const menu = await overflowAfterSettling(page);
  if (menu) found.push(report(`${state} / with the menu open`, menu));
  return found;
}

describe("every page fits a 390 px phone", () => {
  it("signed out", { timeout: 300_000 }, async () => {
    const { visits } = await pagesToVisit();
    const { page } = await openWatchedPage(browser, { viewport: VIEWPORT });
    expect(await visitAll(page, visits, false)).toEqual([]);
  });

  it("signed in, with a very long conversation title", { timeout: 300_000 }, async () => {
    const { visits, app } = await pagesToVisit();
    const conversationId = `layout-${Date.now().toString(36)}`;
    await db.conversation.create({ data: { id: conversationId, owner: DEV_WALLET_ADDRESS, appId: app.id, title: LONG_TITLE } });
    try {
      const { page } = await openWatchedPage(browser, { viewport: VIEWPORT });
      await page.goto(`${stack.appUrl}/dashboard`, { waitUntil: "networkidle" });
      // On a phone the header has no room for the address: the session says who is signed in.
      await signInWithDevWallet(page);
      await expect
        .poll(async () => page.evaluate(async () => ((await (await fetch("/api/auth/session")).json()) as { address: string | null }).address))
        .toBe(DEV_WALLET_ADDRESS);
      expect(await visitAll(page, visits, true)).toEqual([]);
    } finally {
      await db.conversation.deleteMany({ where: { id: conversationId } });
    }
  });
});
