// The chat store's statements against a real (temporary, migrated) PostgreSQL database: what they
// write reads back through Prisma (ids, dates, updatedAt), the sums count what they should, and the
// conflicts become the same ChatErrors the route maps to HTTP statuses.
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "@/lib/db-client";
import { ChatError } from "@/lib/chat/errors";
import { accountView } from "@/lib/chat/balance";
import {
  accountReceipts,
  conversationMessages,
  paymentSession,
  sessionSpent,
  storeAnswer,
  storeQuestion,
  voidReceipt,
  type NewReceipt,
  type QuestionRecord,
} from "@/lib/chat/store";
import { takeRateLimits } from "@/lib/http/rate-limit";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";

const owner = getAddress("0x00000000000000000000000000000000000000aa");
const chain = { chainId: 31337, settlement: getAddress("0x0000000000000000000000000000000000000005") };
let server: PostgresHandle;
let db: Db;
let appId: string;

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-chat-store-");
  await migrateDatabase(server.url);
  db = createDb(server.url);
  const listing = await db.listing.create({
    data: { chainId: 31337, assets: "0x0000000000000000000000000000000000000001", kind: "app", creator: owner, name: "t", description: "t", pricePerQuery: "1", metadataJson: "", contentHash: "" },
  });
  appId = listing.id;
  await db.paymentSession.create({
    data: { hash: "0xsession", chainId: chain.chainId, settlement: chain.settlement, payer: owner, key: owner, operator: owner, spendCap: "1000", expiry: 2_000_000_000, nonce: "1", signature: "0x" },
  });
}, 60_000);

afterAll(async () => {
  await db?.$disconnect();
  await server?.stop();
});

const question = (conversationId: string, messageId: string): QuestionRecord => ({
  conversationId,
  appId,
  owner,
  userMessage: { id: messageId, text: "what burns all night?" },
  title: "what burns all night?",
});

/** What the owner's open receipts hold, as the account reading sees them. */
const openHeld = async () => (await accountReceipts(db, { ...chain, operator: owner, payer: owner })).open.reduce((sum, r) => sum + r.held, 0n);

// A big value: sums must not go through 64-bit integers.
const BIG = (2n ** 200n).toString();

const receipt = (seq: number, maxTotal = "100"): NewReceipt => ({
  ...chain,
  operator: owner,
  payer: owner,
  seq: String(seq),
  issuedAt: 1_900_000_000,
  sessionHash: "0xsession",
  slotsJson: "[\"1\"]",
  maxAmountsJson: `["${maxTotal}"]`,
  charges: `0x${"cd".repeat(32)}`,
  cumulativeMax: String(BigInt(maxTotal) * BigInt(seq)),
  maxTotal,
  signature: "0xsig",
});

describe("chat store", () => {
  it("writes rows Prisma reads back, and fixes or voids receipts once", async () => {
    const before = Date.now();
    const id = await storeQuestion(db, question("conv-1", "m-1"), receipt(1));
    expect(id).toMatch(/^c[0-9a-z]{24}$/);
    const stored = await db.receipt.findUniqueOrThrow({ where: { id: id! }, include: { session: true } });
    expect(stored).toMatchObject({ status: "answering", maxTotal: "100", total: null, seq: "1", payer: owner, appId, conversationId: "conv-1" });
    expect(stored.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(stored.updatedAt.getTime()).toBe(stored.createdAt.getTime());
    const conversation = await db.conversation.findUniqueOrThrow({ where: { id: "conv-1" }, include: { messages: true } });
    expect(conversation).toMatchObject({ owner, appId, title: "what burns all night?" });
    expect(conversation.messages).toMatchObject([{ id: "m-1", role: "user", status: "complete" }]);

    expect(await sessionSpent(db, "0xsession")).toBe(100n);
    expect(await openHeld()).toBe(100n);

    await storeAnswer(db, { id: "a-1", conversationId: "conv-1", text: "the lantern [1]", status: "complete", sourcesJson: "[]", receiptId: id }, { amountsJson: "[[\"1\",\"60\"]]", total: "60", inputTokens: 10, outputTokens: 5, note: "the app", recordHash: `0x${"ab".repeat(32)}`, datasetVersionsJson: "[]" });
    expect(await db.receipt.findUniqueOrThrow({ where: { id: id! } })).toMatchObject({ status: "pending", total: "60", amountsJson: "[[\"1\",\"60\"]]", recordHash: `0x${"ab".repeat(32)}` });
    expect(await openHeld()).toBe(60n);
    expect((await conversationMessages(db, { conversationId: "conv-1", owner, appId })).map((m) => m.id)).toEqual(["m-1", "a-1"]);
    expect(await conversationMessages(db, { conversationId: "conv-1", owner: getAddress("0x00000000000000000000000000000000000000bb"), appId })).toEqual([]);

    // Fixed receipts are not voided, and a voided receipt is not fixed.
    await voidReceipt(db, id, "late", null);
    expect((await db.receipt.findUniqueOrThrow({ where: { id: id! } })).status).toBe("pending");
    const second = await storeQuestion(db, question("conv-1", "m-2"), receipt(2, BIG));
    expect(await sessionSpent(db, "0xsession")).toBe(60n + 2n ** 200n);
    await voidReceipt(db, second, "the model failed", { id: "a-2", conversationId: "conv-1", text: "partial", status: "stopped", sourcesJson: "[]", receiptId: second });
    await expect(
      storeAnswer(db, { id: "a-3", conversationId: "conv-1", text: "x", status: "complete", sourcesJson: "[]", receiptId: second }, { amountsJson: "[]", total: "0", inputTokens: 0, outputTokens: 0, note: "", recordHash: "0x", datasetVersionsJson: "[]" }),
    ).rejects.toThrow(/voided/);
    expect(await db.chatMessage.findUnique({ where: { id: "a-3" } })).toBeNull();
    expect(await db.receipt.findUniqueOrThrow({ where: { id: second! } })).toMatchObject({ status: "void", failureReason: "the model failed" });
    expect(await sessionSpent(db, "0xsession")).toBe(60n);
    expect(await openHeld()).toBe(60n);
    expect((await paymentSession(db, "0xsession"))?.spendCap).toBe("1000");

    // The account's newest voucher (a voided one counts) and its open receipts. Against the chain: an
    // open receipt at or below the chain's settled seq is already in its balance (its settlement landed
    // between the two reads), one above it is not; the position is the newer of the two.
    const account = await accountReceipts(db, { ...chain, operator: owner, payer: owner });
    expect(account.latest).toEqual({ seq: 2n, cumulativeMax: 2n ** 201n });
    expect(account.open).toEqual([{ seq: 1n, held: 60n }]);
    const onChain = { balance: 1_000n, withdrawal: 100n, seq: 0n, charged: 0n };
    expect(accountView(account, onChain)).toEqual({ position: { seq: 2n, cumulativeMax: 2n ** 201n }, pending: 60n, headroom: 840n, committed: 60n });
    expect(accountView(account, { balance: 940n, withdrawal: 100n, seq: 1n, charged: 60n })).toEqual({ position: { seq: 2n, cumulativeMax: 2n ** 201n }, pending: 0n, headroom: 840n, committed: 60n });
    // A fresh database beside an account the chain already knows: the chain's position stands.
    expect(accountView({ latest: null, open: [] }, { balance: 5n, withdrawal: 0n, seq: 7n, charged: 900n }).position).toEqual({ seq: 7n, cumulativeMax: 900n });
  });

  it("refuses a voucher number used twice, a resent message and another wallet's conversation, storing nothing", async () => {
    await storeQuestion(db, question("conv-2", "m-10"), receipt(10));
    const code = (p: Promise<unknown>) => p.then(() => "stored", (e: unknown) => (e instanceof ChatError ? e.reason : String(e)));
    expect(await code(storeQuestion(db, question("conv-2", "m-11"), receipt(10)))).toBe("nonce_used");
    expect(await db.chatMessage.findUnique({ where: { id: "m-11" } })).toBeNull();
    expect(await code(storeQuestion(db, question("conv-2", "m-10"), receipt(12)))).toBe("app_unavailable");
    const other = { ...question("conv-2", "m-13"), owner: getAddress("0x00000000000000000000000000000000000000bb") };
    expect(await code(storeQuestion(db, other, null))).toBe("sign_in");
    expect(await db.receipt.count({ where: { seq: { in: ["11", "12"] } } })).toBe(0);
  });

  it("waits for a concurrent transaction that holds the conversation", async () => {
    let stored: Promise<string | null> | undefined;
    await db.$transaction(async (tx) => {
      // Holds the write lock across awaits on Prisma's connection.
      await tx.conversation.create({ data: { id: "conv-3", owner, appId, title: "t" } });
      stored = storeQuestion(db, question("conv-3", "m-20"), receipt(20));
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    expect(await stored).toMatch(/^c/);
    expect(await db.chatMessage.count({ where: { conversationId: "conv-3" } })).toBe(1);
  });
});

describe("rate limits in the database", () => {
  it("count each key across callers (as across servers) and refuse past the limit, with the wait", async () => {
    const other = createDb(server.url); // a second client: another app server's connection pool
    try {
      const wallet = { key: `wallet:${owner.toLowerCase()}`, limit: 3 };
      const ip = { key: "ip:203.0.113.7", limit: 5 };
      // A fixed clock, 15 s into a minute: the test cannot straddle two minutes. It is in the future, so
      // the occasional sweep of past minutes (which any call may start) never deletes these counters.
      const at = 70_000_000 * 60_000 + 15_000;
      const verdicts = await Promise.all([0, 1, 2].map((i) => takeRateLimits(i % 2 ? other : db, [wallet, ip], at)));
      expect(verdicts.map((v) => v.exceeded)).toEqual([null, null, null]);
      const fourth = await takeRateLimits(other, [wallet, ip], at);
      expect(fourth).toEqual({ exceeded: wallet, retryAfterMs: 45_000 });
      // Another wallet from the same address: only the address's count is shared.
      const second = { key: "wallet:0xbb", limit: 3 };
      expect((await takeRateLimits(db, [second, ip], at)).exceeded).toBeNull();
      expect((await takeRateLimits(db, [second, ip], at)).exceeded).toEqual(ip);
      // The next minute starts from zero.
      expect((await takeRateLimits(db, [wallet, ip], at + 60_000)).exceeded).toBeNull();
    } finally {
      await other.$disconnect();
    }
  });
});
