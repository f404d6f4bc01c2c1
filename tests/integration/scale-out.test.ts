// Several app servers and settlement workers on one PostgreSQL and one chain, as real processes: two
// `next start` servers and two `scripts/settle.ts` workers on a database of their own (so the shared
// stack's worker never sees these receipts) and the stack's anvil and contracts.
//   - one payer's concurrent messages over both servers admit each number of its account once, and never
//     more than the balance;
//   - the rate limit counts requests on both servers together;
//   - a wallet's upload creations racing on both servers are counted against its room one at a time;
//   - one worker settles; when its process is killed the other takes over, and every admitted receipt
//     settles exactly once;
//   - a dataset indexed through one server is searched through the other, a document added by another
//     process is found by a server that had the dataset's index cached, and a document removed through
//     one server (a new version) is never retrieved by the other;
//   - both servers' periodic model health probes together probe a listed endpoint once per interval.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseEther, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { settlementOutcome } from "../../lib/protocol";
import { kipAssetsAbi, kipSettlementAbi } from "../../lib/chain/generated";
import type { ChargeSet, MessageCharge } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { inOneRateWindow } from "../helpers/rate-window";
import { signInOverHttp } from "../helpers/siwe";
import { createUpload } from "../helpers/tus";
import { indexDocument } from "../../lib/rag/ingest";
import { startAppServer, startSettlementWorker, type AppServer } from "../../scripts/stack";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { freePort, waitFor, type Managed } from "../../scripts/stack/process";
import { ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { startStandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const PRICE = { app: 4_000n, model: 3_000n, datasets: [1_000n] };
const PER_MESSAGE = 8_000n;
const WALLET_LIMIT = 6;
const LEASE_MS = 3_000;
const PROBE_INTERVAL_MS = 1_000;

interface Worker {
  process: Managed;
  log: () => string;
}

let postgres: PostgresHandle;
let db: Db;
let env: Record<string, string>;
const servers: { app: AppServer; url: string; fx: ChatFixtures }[] = [];
const workers: Worker[] = [];
let appId: string;
let charges: ChargeSet;

function startWorker(name: string): Worker {
  const process = startSettlementWorker(env, name);
  let output = "";
  process.child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  process.child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { process, log: () => output };
}

const waitForLog = (worker: Worker, pattern: RegExp, what: string, timeoutMs = 60_000) =>
  waitFor(what, async () => (pattern.test(worker.log()) ? true : undefined), {
    timeoutMs,
    intervalMs: 100,
    failed: () => (worker.process.child.exitCode !== null ? `worker exited: ${worker.log()}` : undefined),
  });

/** The directory of the deployment file naming this test's settler, removed afterwards. */
let deploymentDir: string | undefined;

beforeAll(async () => {
  postgres = await startTemporaryPostgres("kip-scale-out-");
  await migrateDatabase(postgres.url);
  db = createDb(postgres.url);

  // An operator of their own (the same contracts, a deployment file naming another operator), so these
  // workers never race the stack's worker for nonces and the stack's sessions are not theirs.
  const fx = new ChatFixtures(stack);
  const settlerKey = generatePrivateKey();
  const settler = privateKeyToAccount(settlerKey);
  await fx.client.request({ method: "anvil_setBalance" as never, params: [settler.address, `0x${parseEther("10").toString(16)}`] as never });
  const deployment = { ...stack.deployment, operator: settler.address };
  deploymentDir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-scale-out-deployment-"));
  const deploymentFile = path.join(deploymentDir, `${stack.chainId}.json`);
  fs.writeFileSync(deploymentFile, JSON.stringify(deployment));

  env = {
    ...stack.env,
    DATABASE_URL: postgres.url,
    DEPLOYMENTS_FILE: deploymentFile,
    SETTLER_PRIVATE_KEY: settlerKey,
    SETTLE_INTERVAL_MS: "500",
    SETTLE_LEASE_MS: String(LEASE_MS),
    CHAT_RATE_LIMIT_WALLET: String(WALLET_LIMIT),
    CHAT_RATE_LIMIT_IP: "1000",
    MODEL_PROBE_INTERVAL_MS: String(PROBE_INTERVAL_MS),
  };
  const ports = [await freePort(), await freePort()];
  for (const [i, port] of ports.entries()) {
    const url = `http://localhost:${port}`;
    const app = startAppServer({ port, env: { ...env, APP_URL: url }, name: `app-${"AB"[i]}` });
    servers.push({ app, url, fx: new ChatFixtures({ ...stack, deployment, appUrl: url, databaseUrl: postgres.url }) });
  }
  await Promise.all(servers.map((s) => s.app.ready(s.url)));

  const created = await servers[0].fx.createApp(db, {
    systemPrompt: "Answer from the passages.",
    prices: PRICE,
    datasets: [{ name: "Harbor", text: "The harbor lantern burns all night so the fishing boats find the quay." }],
  });
  appId = created.app.id;
  charges = await servers[1].fx.chargeSet(appId);
}, 240_000);

afterAll(async () => {
  await Promise.all([...workers.map((w) => w.process.stop()), ...servers.map((s) => s.app.stop())]);
  await db?.$disconnect();
  await postgres?.stop();
  if (deploymentDir) fs.rmSync(deploymentDir, { recursive: true, force: true });
});

/** A new payer with `messages` messages' worth of deposit, signed in (on server A) and with a session. */
async function payer(messages: bigint) {
  const fx = servers[0].fx;
  const account = await fx.account();
  await fx.deposit(account, messages * PER_MESSAGE);
  const cookie = await fx.signIn(account);
  const auth = await fx.authorize(cookie, account, { spendCap: 1_000_000n });
  return { account, cookie, auth };
}

/**
 * Sends one paid message to server `i` under `auth` (default: the payer's session) with `payment` (default:
 * the account's next voucher as the server reports it); resolves with its status and, when answered, its receipt.
 */
async function send(i: number, who: Awaited<ReturnType<typeof payer>>, auth = who.auth, payment?: Awaited<ReturnType<ChatFixtures["payment"]>>) {
  const fx = servers[i % 2].fx;
  const response = await fx.post("/api/chat", who.cookie, {
    conversationId: clientId(),
    appId,
    trigger: "submit-message",
    message: { id: clientId(), text: "what burns at the harbor?" },
    payment: payment ?? (await fx.payment(charges, auth)),
  });
  if (!response.ok) return { status: response.status, reason: ((await response.json()) as { error: { reason?: string } }).error.reason, receiptId: null };
  const chunks = await readChunks(response);
  const meta = chunks.filter((c) => c.type === "message-metadata").at(-1)?.messageMetadata as { charge?: MessageCharge } | undefined;
  expect(chunks.some((c) => c.type === "finish")).toBe(true);
  return { status: response.status, reason: undefined, receiptId: meta?.charge?.receiptId ?? null };
}

/**
 * How many times each of the payer's query records was settled on chain: every batch of these workers'
 * operator (BatchSettled), its items read from the transaction's input and kept unless a SessionRejected
 * of its receipt names them.
 */
async function settledRecords(payerAddress: Address): Promise<Map<string, number>> {
  const fx = servers[0].fx;
  const logs = await fx.client.getContractEvents({
    address: fx.settlement,
    abi: kipSettlementAbi,
    eventName: "BatchSettled",
    args: { operator: fx.operator },
    fromBlock: BigInt(stack.deployment.startBlock),
  });
  const counts = new Map<string, number>();
  for (const txHash of new Set(logs.map((l) => l.transactionHash))) {
    const [tx, receipt] = await Promise.all([fx.client.getTransaction({ hash: txHash }), fx.client.getTransactionReceipt({ hash: txHash })]);
    const items = settlementOutcome(tx.input, tx.from, fx.settlement, receipt.logs);
    for (const item of items.filter((i) => i.rejected === null && i.session.payer.toLowerCase() === payerAddress.toLowerCase())) {
      for (const record of item.records ?? []) counts.set(record.recordHash, (counts.get(record.recordHash) ?? 0) + 1);
    }
  }
  return counts;
}

describe("two app servers and two settlement workers on one database", () => {
  it("start one settling worker; the second stands by", async () => {
    workers.push(startWorker("settle-1"));
    await waitForLog(workers[0], /lease settlement:\S+ taken/, "worker 1 to take the lease");
    workers.push(startWorker("settle-2"));
    await waitForLog(workers[1], /standing by/, "worker 2 to stand by");
    expect(workers[1].log()).not.toMatch(/taken by/);
  });

  it("admit each number of an account once and no more than the balance covers when one payer's messages arrive at both servers at once", async () => {
    const who = await payer(2n);
    // Two sessions of one payer (two tabs or devices) numbering the account's queries together: each round
    // both sign the account's next voucher and send it at once, one to each server (six requests in all:
    // the wallet's rate limit).
    const sessions = [who.auth, await servers[0].fx.authorize(who.cookie, who.account, { spendCap: 1_000_000n })];
    const round = async () => {
      const position = await servers[0].fx.position(who.auth);
      const payments = await Promise.all(sessions.map((auth) => servers[0].fx.payment(charges, auth, { previous: position })));
      return Promise.all(sessions.map((auth, i) => send(i, who, auth, payments[i])));
    };
    // The balance covers two messages: one number is admitted per round, once over both servers.
    for (let i = 0; i < 2; i++) {
      const results = await round();
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status !== 200).map((r) => [r.status, r.reason])).toEqual([[409, "nonce_used"]]);
    }
    // Then nothing: the next number is free, the balance is not.
    expect((await round()).map((r) => [r.status, r.reason])).toEqual(Array(2).fill([402, "balance_too_low"]));
    expect(await db.receipt.count({ where: { payer: who.account.address, status: { notIn: ["void", "failed"] } } })).toBe(2);

    // The first worker settles them; the standby sends nothing.
    await expect.poll(() => db.receipt.count({ where: { payer: who.account.address, status: "settled" } }), { timeout: 60_000, interval: 200 }).toBe(2);
    // The worker logs its batch after recording it: the line reaches this process through a pipe, after
    // the rows may already read as settled.
    await waitForLog(workers[0], /settled/, "worker 1 to log its batch");
    expect(workers[1].log()).not.toMatch(/settled/);
  });

  it("count a wallet's requests on both servers against one limit", async () => {
    const who = await payer(1n);
    await inOneRateWindow(db);
    const statuses: number[] = [];
    for (let i = 0; i < WALLET_LIMIT + 1; i++) {
      // No payment: refused with 402 after the limit check, which counts it.
      const response = await servers[i % 2].fx.post("/api/chat", who.cookie, { conversationId: clientId(), appId, trigger: "submit-message", message: { id: clientId(), text: "hi" } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([...Array(WALLET_LIMIT).fill(402), 429]);
  });

  it("hold a wallet's upload room when its creations race on both servers (one shared UPLOAD_DIR)", async () => {
    const cookie = await signInOverHttp(servers[0].url, stack.chainId, privateKeyToAccount(generatePrivateKey()));
    // The wallet's room is 400 MB; one 200 MB upload takes half of it. Then four more at once, two to each
    // server: exactly one fits (checked server by server, each server's first two would both pass).
    expect((await createUpload(servers[0].url, cookie, "first.tar", 200 * 1024 * 1024)).status).toBe(201);
    const racing = await Promise.all(Array.from({ length: 4 }, (_, i) => createUpload(servers[i % 2].url, cookie, `part-${i}.tar`, 200 * 1024 * 1024)));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 413, 413, 413]);
  });

  it("hand settlement over when the settling worker is killed, settling every receipt exactly once", async () => {
    const who = await payer(3n);
    // One session's vouchers 1, 2 and 3, alternating between the servers.
    const answered = [];
    for (const i of [0, 1, 2]) answered.push(await send(i, who));
    // Each one's balance is exact at its admission, while the earlier ones are settling (once, not twice).
    expect(answered.map((r) => [r.status, r.reason])).toEqual([200, 200, 200].map((status) => [status, undefined]));
    // Killed whatever it is doing (these receipts may be pending, claimed or broadcast).
    const killedAt = Date.now();
    process.kill(-workers[0].process.child.pid!, "SIGKILL");
    await workers[0].process.exited;
    await waitForLog(workers[1], /lease settlement:\S+ taken/, "worker 2 to take over", 30_000);
    expect(Date.now() - killedAt).toBeLessThan(30_000);

    await expect.poll(() => db.receipt.count({ where: { payer: who.account.address, status: "settled" } }), { timeout: 60_000, interval: 200 }).toBe(3);
    const rows = await db.receipt.findMany({ where: { payer: who.account.address } });
    const onChain = await settledRecords(who.account.address);
    expect(rows.map((r) => onChain.get(r.recordHash!))).toEqual([1, 1, 1]);
    const charged = rows.reduce((sum, r) => sum + BigInt(r.total!), 0n);
    expect(await servers[0].fx.balanceOf(who.account.address)).toBe(3n * PER_MESSAGE - charged);
  });

  it("search on one server what was indexed through the other, and what another process added later", async () => {
    const owner = await servers[0].fx.account();
    const cookieA = await servers[0].fx.signIn(owner);
    const form = new FormData();
    for (const [k, v] of Object.entries({ name: "Lighthouses", description: "Notes on lighthouses for the scale-out test.", license: "CC0", price: "0.001", tags: "sea" })) form.set(k, v);
    form.append("files", new Blob(["The Fresnel lens bent the lamp's beam into a narrow ray visible for miles."], { type: "text/plain" }), "lens.txt");
    const created = await fetch(`${servers[0].url}/api/datasets`, { method: "POST", headers: { cookie: cookieA }, body: form });
    expect(created.status).toBe(201);
    const { id, transaction: tx } = (await created.json()) as { id: string; transaction: { kind: number; price: string; uri: string; contentHash: `0x${string}` } };
    await expect
      .poll(async () => ((await (await fetch(`${servers[0].url}/api/datasets/${id}/status`, { headers: { cookie: cookieA } })).json()) as { status: string }).status, {
        timeout: 60_000,
        interval: 100,
      })
      .toBe("ready");

    const searchB = async (query: string) => {
      const response = await fetch(`${servers[1].url}/api/datasets/${id}/search`, {
        method: "POST",
        headers: { cookie: cookieA, "content-type": "application/json" },
        body: JSON.stringify({ query, k: 1 }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { results: { filename: string; text: string }[] }).results;
    };
    expect((await searchB("fresnel lens beam"))[0]?.filename).toBe("lens.txt");
    // Server B now has the index cached; a document indexed by another process bumps the version.
    await indexDocument(db, id, { filename: "keeper.txt", mimeType: "text/plain", content: new TextEncoder().encode("The keeper wound the clockwork every four hours.") }, env.ENCRYPTION_KEY);
    expect((await searchB("keeper clockwork"))[0]?.filename).toBe("keeper.txt");

    // Listed from the owner's wallet, then a document removed through server A (a new version): server B,
    // with the index cached, never retrieves its passages again.
    const listHash = await servers[0].fx.wallet(owner).writeContract({
      address: stack.deployment.assets as Address,
      abi: kipAssetsAbi,
      functionName: "list",
      args: [tx.kind, BigInt(tx.price), tx.uri, tx.contentHash],
    });
    await servers[0].fx.client.waitForTransactionReceipt({ hash: listHash });
    const confirmed = await fetch(`${servers[0].url}/api/listings/${id}/confirm`, { method: "POST", headers: { cookie: cookieA, "content-type": "application/json" }, body: JSON.stringify({ txHash: listHash }) });
    expect(confirmed.status).toBe(200);
    const lens = await db.document.findFirstOrThrow({ where: { datasetId: id, filename: "lens.txt" } });
    const removed = await fetch(`${servers[0].url}/api/datasets/${id}/documents/${lens.id}`, { method: "DELETE", headers: { cookie: cookieA } });
    expect(removed.status).toBe(200);
    expect((await searchB("fresnel lens beam")).map((r) => r.filename)).not.toContain("lens.txt");
    expect((await searchB("keeper clockwork"))[0]?.filename).toBe("keeper.txt");
  });

  it("probe a listed model's endpoint once per interval between them", async () => {
    const standIn = await startStandIn();
    const listing = await db.listing.create({
      data: { chainId: stack.chainId, assets: stack.deployment.assets, kind: "model", creator: stack.deployment.operator, name: "Probed", description: "probed", pricePerQuery: "1", metadataJson: "", contentHash: "", status: "listed" },
    });
    try {
      await db.modelEndpoint.create({ data: { listingId: listing.id, provider: "openai-compatible", baseUrl: standIn.url, modelName: "stand-in-chat" } });
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 5 * PROBE_INTERVAL_MS));
      const elapsed = performance.now() - started;
      const probes = standIn.probes.map((p) => p.at);
      // Each server alone would probe about once per interval; both together must not do more.
      expect(probes.length).toBeGreaterThanOrEqual(2);
      expect(probes.length).toBeLessThanOrEqual(Math.ceil(elapsed / PROBE_INTERVAL_MS) + 1);
      for (let i = 1; i < probes.length; i++) expect(probes[i] - probes[i - 1]).toBeGreaterThanOrEqual(PROBE_INTERVAL_MS - 50);
      expect(await db.modelHealth.findUniqueOrThrow({ where: { listingId: listing.id } })).toMatchObject({ status: "up", reason: null });
    } finally {
      await db.listing.delete({ where: { id: listing.id } });
      await standIn.stop();
    }
  });
});
