// PostgreSQL killed mid-answer, as real processes: an app server and a settlement worker on a database of
// their own (so the shared stack is never touched), the stack's anvil and contracts, and a stand-in model
// that streams slowly. The server is stopped the hard way (SIGQUIT: immediate shutdown, crash recovery on
// the next start) while an answer is being written.
//   - that message ends with a clear error saying it could not be saved and will not be charged;
//   - requests while the database is down get a 503 that says so;
//   - no receipt is left half-written: the cut-off query is voided once the database is back, never
//     charged, and has no answer stored;
//   - the query answered before the crash settles after the restart, and chat works again.
// The same server has a short answer time limit (below the worker's void timeout): an answer still
// streaming at the limit is cut, kept and charged for what was delivered, and settles; one with no first
// word by then is voided with a clear message. Neither is left for the worker to void after the user read it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { ChargeSet, MessageCharge } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { DATABASE_UNAVAILABLE } from "../../lib/errors";
import { startAppServer, startSettlementWorker, type AppServer } from "../../scripts/stack";
import { migrateDatabase } from "../../scripts/stack/db";
import { startEmbeddedPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { freePort, waitFor, type Managed } from "../../scripts/stack/process";
import { ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const ANSWER_TIMEOUT_MS = 5_000;
const ANSWER_TIME_LIMIT_MS = 4_000;

let dataDir: string;
let pgPort: number;
let postgres: PostgresHandle;
let db: Db;
let app: AppServer;
let appUrl: string;
let worker: Managed;
let standIn: StandIn;
let fx: ChatFixtures;
let appId: string;
let charges: ChargeSet;

/** The directory of the deployment file naming this test's settler, removed afterwards. */
let deploymentDir: string | undefined;

beforeAll(async () => {
  dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kip-db-crash-")), "pg");
  pgPort = await freePort();
  postgres = await startEmbeddedPostgres({ dataDir, port: pgPort });
  await migrateDatabase(postgres.url);
  db = createDb(postgres.url);
  // Every answer takes about two seconds: ten words, 200 ms apart.
  standIn = await startStandIn({ reply: () => "The harbor lantern burns all night so boats find the quay [1].", tokenDelayMs: 200 });

  // An operator of its own (the same contracts, a deployment file naming another operator).
  const settlerKey = generatePrivateKey();
  const settler = privateKeyToAccount(settlerKey);
  const base = new ChatFixtures(stack);
  await base.client.request({ method: "anvil_setBalance" as never, params: [settler.address, `0x${parseEther("10").toString(16)}`] as never });
  const deployment = { ...stack.deployment, operator: settler.address };
  deploymentDir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-db-crash-deployment-"));
  const deploymentFile = path.join(deploymentDir, `${stack.chainId}.json`);
  fs.writeFileSync(deploymentFile, JSON.stringify(deployment));

  const port = await freePort();
  appUrl = `http://localhost:${port}`;
  const env = {
    ...stack.env,
    APP_URL: appUrl,
    DATABASE_URL: postgres.url,
    DEPLOYMENTS_FILE: deploymentFile,
    SETTLER_PRIVATE_KEY: settlerKey,
    // Rounds 10 s apart: the first query is still pending when the database goes down.
    SETTLE_INTERVAL_MS: "10000",
    SETTLE_LEASE_MS: "2000",
    SETTLE_ANSWER_TIMEOUT_MS: String(ANSWER_TIMEOUT_MS),
    ANSWER_TIME_LIMIT_MS: String(ANSWER_TIME_LIMIT_MS),
    MODEL_PROBE_INTERVAL_MS: "0",
  };
  app = startAppServer({ port, env, name: "app-crash" });
  worker = startSettlementWorker(env, "settle-crash");
  await app.ready(appUrl);
  fx = new ChatFixtures({ ...stack, deployment, appUrl, databaseUrl: postgres.url });
  const created = await fx.createApp(db, {
    systemPrompt: "Answer from the passages.",
    prices: { app: 4_000n, model: 3_000n, datasets: [1_000n] },
    datasets: [{ name: "Harbor", text: "The harbor lantern burns all night so the fishing boats find the quay." }],
    baseUrl: standIn.url,
  });
  appId = created.app.id;
  charges = await fx.chargeSet(appId);
}, 240_000);

afterAll(async () => {
  await Promise.all([worker?.stop(), app?.stop()]);
  await db?.$disconnect();
  await postgres?.stop();
  await standIn?.stop();
  fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  if (deploymentDir) fs.rmSync(deploymentDir, { recursive: true, force: true });
});

/** Immediate shutdown of the server: what a crash or `kill -QUIT` does (no checkpoint, recovery on start). */
function crashPostgres(): number {
  const pid = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGQUIT");
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("an answer that runs past the time limit", () => {
  const REPLY = "The harbor lantern burns all night so boats find the quay [1].";
  async function payer() {
    const account = await fx.account();
    await fx.deposit(account, 100_000n);
    const cookie = await fx.signIn(account);
    const auth = await fx.authorize(cookie, account, { spendCap: 1_000_000n });
    const conversationId = clientId();
    const payment = await fx.payment(charges, auth);
    // Timed from the request, not from the payer's setup (deposit, sign-in, session), which a busy machine slows.
    const started = performance.now();
    const response = await fx.post("/api/chat", cookie, { conversationId, appId, trigger: "submit-message", message: { id: clientId(), text: "what burns at the harbor?" }, payment });
    expect(response.status).toBe(200);
    const chunks = await readChunks(response);
    return { account, conversationId, chunks, elapsed: performance.now() - started };
  }

  it("is cut at the limit, kept, charged for what was delivered, and settles", async () => {
    // 40 words 200 ms apart: 8 s, twice the limit.
    standIn.options.reply = () => Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    try {
      const { account, conversationId, chunks, elapsed } = await payer();
      expect(elapsed).toBeGreaterThanOrEqual(ANSWER_TIME_LIMIT_MS - 100);
      expect(elapsed).toBeLessThan(7_000);
      expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "length" });
      const meta = chunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: MessageCharge; answerStatus: string };
      expect(meta.answerStatus).toBe("stopped");
      expect(meta.charge.note).toMatch(/^Cut at the 4-second answer limit: the app and 1 of 1 dataset in context in full, the model for the [\d,]+ input and \d+ output tokens streamed before the cut\.$/);
      const delivered = chunks.filter((c) => c.type === "text-delta").length;
      expect(delivered).toBeGreaterThan(3);
      expect(delivered).toBeLessThan(40);
      // The model call was cancelled at the cut.
      await expect.poll(() => standIn.requests.at(-1)!.closedEarly, { timeout: 5_000 }).toBe(true);
      const answer = await db.chatMessage.findFirstOrThrow({ where: { conversationId, role: "assistant" } });
      expect(answer.status).toBe("stopped");
      // What was kept is exactly what the user was shown.
      expect(answer.text).toBe(chunks.filter((c) => c.type === "text-delta").map((c) => c.delta).join(""));
      // Charged in full for the app, the dataset in context and the per-query model, and never voided:
      // it settles, past the worker's void timeout.
      const receipt = () => db.receipt.findFirstOrThrow({ where: { conversationId } });
      expect((await receipt()).total).toBe("8000");
      await expect.poll(async () => (await receipt()).status, { timeout: 60_000, interval: 250 }).toBe("settled");
      expect(await fx.balanceOf(account.address)).toBe(100_000n - 8_000n);
    } finally {
      standIn.options.reply = () => REPLY;
    }
  }, 90_000);

  it("costs nothing when the model has not started answering by the limit", async () => {
    standIn.options.firstTokenDelayMs = ANSWER_TIME_LIMIT_MS + 3_000;
    try {
      const { conversationId, chunks } = await payer();
      expect(chunks.some((c) => c.type === "data-sources" || c.type === "text-delta")).toBe(false);
      expect((chunks.find((c) => c.type === "error") as { errorText: string } | undefined)?.errorText).toBe(
        "The model did not start answering within the 4-second limit. You were not charged; try again.",
      );
      expect(await db.receipt.findFirstOrThrow({ where: { conversationId } })).toMatchObject({ status: "void", failureReason: "the model did not answer within the 4-second limit", total: null });
      expect(await db.chatMessage.count({ where: { conversationId, role: "assistant" } })).toBe(0);
    } finally {
      standIn.options.firstTokenDelayMs = 0;
    }
  }, 60_000);
});

describe("PostgreSQL killed mid-answer", () => {
  it("fails that message clearly, leaves no receipt half-written, and settles what was answered after a restart", async () => {
    const account = await fx.account();
    await fx.deposit(account, 100_000n);
    const cookie = await fx.signIn(account);
    const auth = await fx.authorize(cookie, account, { spendCap: 1_000_000n });
    const ask = async (conversationId: string) =>
      fx.post("/api/chat", cookie, { conversationId, appId, trigger: "submit-message", message: { id: clientId(), text: "what burns at the harbor?" }, payment: await fx.payment(charges, auth) });

    // Answered before the crash, and still pending when the database goes.
    const before = await ask(clientId());
    expect(before.status).toBe(200);
    const beforeChunks = await readChunks(before);
    const answered = (beforeChunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: MessageCharge }).charge.receiptId!;
    expect((await db.receipt.findUniqueOrThrow({ where: { id: answered } })).status).toBe("pending");

    // The second answer is cut off: the database dies after its first words were streamed.
    const conversation = clientId();
    const cut = await ask(conversation);
    expect(cut.status).toBe(200);
    let pid = 0;
    const chunks = await readChunks(cut, (chunk) => {
      if (chunk.type === "text-delta" && pid === 0) pid = crashPostgres();
    });
    expect(pid).toBeGreaterThan(0);
    const error = chunks.find((c) => c.type === "error") as { errorText: string } | undefined;
    expect(error?.errorText).toMatch(/^Your answer could not be saved \(the marketplace's database cannot be reached\)\. You will not be charged for it/);
    expect(chunks.some((c) => c.type === "finish")).toBe(false);

    // While it is down, requests are refused with a 503 that says so.
    await waitFor("PostgreSQL to exit", async () => (alive(pid) ? undefined : true), { timeoutMs: 30_000, intervalMs: 100 });
    const down = await fx.post("/api/chat", cookie, { conversationId: clientId(), appId, trigger: "submit-message", message: { id: clientId(), text: "anyone there?" } });
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: { message: string } }).error.message).toBe(DATABASE_UNAVAILABLE);

    // Restarted on the same data directory and port (crash recovery runs).
    postgres = await startEmbeddedPostgres({ dataDir, port: pgPort });
    await db.$disconnect();
    db = createDb(postgres.url);

    // The cut-off query is voided (never charged, no answer kept); the one answered before settles.
    const cutReceipt = () => db.receipt.findFirstOrThrow({ where: { conversationId: conversation } });
    await expect.poll(async () => (await cutReceipt()).status, { timeout: 60_000, interval: 250 }).toBe("void");
    expect(await cutReceipt()).toMatchObject({ failureReason: "the answer never finished", total: null, amountsJson: null, recordHash: null });
    expect(await db.chatMessage.count({ where: { conversationId: conversation, role: "assistant" } })).toBe(0);
    await expect.poll(async () => (await db.receipt.findUniqueOrThrow({ where: { id: answered } })).status, { timeout: 60_000, interval: 250 }).toBe("settled");

    // Chat works again, and its query settles too.
    const again = await ask(clientId());
    expect(again.status).toBe(200);
    const againChunks = await readChunks(again);
    expect(againChunks.some((c) => c.type === "finish")).toBe(true);
    const next = (againChunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: MessageCharge }).charge.receiptId!;
    await expect.poll(async () => (await db.receipt.findUniqueOrThrow({ where: { id: next } })).status, { timeout: 60_000, interval: 250 }).toBe("settled");
    // What the payer paid on chain is exactly the two answered queries.
    const paid = await db.receipt.findMany({ where: { payer: account.address, status: "settled" }, select: { total: true } });
    expect(paid).toHaveLength(2);
    expect(await fx.balanceOf(account.address)).toBe(100_000n - paid.reduce((sum, r) => sum + BigInt(r.total!), 0n));
  }, 180_000);
});
