// Chat overhead benchmark: `npx tsx bench/chat.ts` (part of `npm run bench`).
// Starts the whole stack (anvil, contracts, a fresh database, `next start`), an OpenAI-compatible
// stand-in model that answers at once, and a paid app over 10,000 chunks. 20 wallets (each with a
// deposit and a spending session) then chat concurrently; every request carries a fresh signed receipt,
// so the full paid path runs (session, signature, charge set, balance on chain minus pending, storage,
// retrieval, streaming, charge fixing). Overhead = time to the first streamed token minus the model's
// own time to first token. Writes bench/results/chat.json; exits non-zero if a target is missed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStack } from "../scripts/stack";
import { freePort } from "../scripts/stack/process";
import { createDb } from "../lib/db-client";
import { ChatFixtures, clientId, readChunks } from "../tests/helpers/chat-fixtures";
import { startStandIn } from "../tests/helpers/openai-stand-in";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { overheadP95Ms: 100, requestsPerSec: 50 };
const CONCURRENCY = 20;
/** Paced phase: 20 chats sending together at the target rate, to measure the overhead. */
const PACED = Number(process.env.BENCH_CHAT_PACED ?? 400);
/** Saturation phase: 20 chats sending back to back, to measure the most requests per second. */
const REQUESTS = Number(process.env.BENCH_CHAT_REQUESTS ?? 600);
const WARMUP = 40;
const CHUNKS = 10_000;

const WORDS =
  "harbor lantern granite meadow orchard falcon river cedar copper violet ember quarry willow summit canyon glacier prairie tundra delta lagoon marsh beacon citadel forge loom anvil kiln mill orchard vineyard pasture barley millet saffron indigo cobalt amber jasper onyx quartz basalt slate flint marble chalk clay loam silt gravel pebble boulder ridge valley plateau".split(" ");

/** Deterministic text: one paragraph of about 900 characters per chunk. */
function corpus(documents: number, chunksPerDocument: number): string[] {
  let seed = 42;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
  return Array.from({ length: documents }, () =>
    Array.from({ length: chunksPerDocument }, () => {
      const words: string[] = [];
      while (words.join(" ").length < 860) words.push(WORDS[next() % WORDS.length]);
      return `${words.join(" ")}.`;
    }).join("\n\n"),
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-bench-chat-"));
  const appPort = await freePort();
  const standIn = await startStandIn({ reply: () => "The passages say the harbor lantern burns all night [1]." });
  console.log("starting the stack (anvil, contracts, next build + start)…");
  const stack = await startStack({
    mode: "start",
    appPort,
    anvilPort: await freePort(),
    dataDir,
    databaseUrl: `file:${path.join(dataDir, "kip.db")}`,
    deploymentFile: path.join(dataDir, "deployment.json"),
    persistChain: false,
    seed: false,
    settle: false,
    build: process.env.KIP_BENCH_SKIP_BUILD !== "1",
    env: {
      APP_URL: `http://localhost:${appPort}`,
      RPC_URL: undefined,
      DATABASE_URL: undefined,
      CHAIN_ID: undefined,
      CHAT_RATE_LIMIT_WALLET: "100000",
      CHAT_RATE_LIMIT_IP: "100000",
    },
    log: (line) => console.log(`  ${line}`),
  });
  const db = createDb(stack.databaseUrl);
  try {
    const fx = new ChatFixtures({ appUrl: stack.appUrl, rpcUrl: stack.rpcUrl, chainId: stack.chainId, databaseUrl: stack.databaseUrl, deployment: stack.deployment, env: stack.env });
    console.log(`indexing ${CHUNKS.toLocaleString("en-US")} chunks…`);
    const texts = corpus(4, CHUNKS / 4);
    const created = await fx.createApp(db, {
      systemPrompt: "Answer from the passages.",
      prices: { app: 4000n, model: 3000n, datasets: [1000n, 1000n, 1000n, 1000n] },
      datasets: texts.map((text, i) => ({ name: `Corpus ${i + 1}`, text })),
      baseUrl: standIn.url,
    });
    const chunkCount = await db.chunk.count({ where: { datasetId: { in: created.datasets.map((d) => d.id) } } });
    const charges = await fx.chargeSet(created.app.id);

    console.log(`preparing ${CONCURRENCY} wallets (deposit with permit, sign-in, spending session)…`);
    const users: { payer: Awaited<ReturnType<ChatFixtures["account"]>>; cookie: string; auth: Awaited<ReturnType<ChatFixtures["authorize"]>>; nonce: bigint; conversation: string }[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const payer = await fx.account();
      await fx.deposit(payer, 100_000_000n);
      const cookie = await fx.signIn(payer);
      const auth = await fx.authorize(cookie, payer, { spendCap: 90_000_000n });
      users.push({ payer, cookie, auth, nonce: 0n, conversation: clientId() });
    }
    // Receipts are signed before the clock starts: signing happens in the user's browser.
    const total = WARMUP + PACED + REQUESTS;
    const prepared = await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        const user = users[i % CONCURRENCY];
        const nonce = ++user.nonce;
        return { user, payment: await fx.payment(charges, user.auth, nonce) };
      }),
    );
    const questions = ["harbor lantern", "granite quarry summit", "copper kiln forge", "violet meadow orchard", "amber jasper onyx"];
    const standInTtft: number[] = [];
    const overheads: number[] = [];
    let failures = 0;

    const one = async (i: number, record: boolean) => {
      const { user, payment } = prepared[i];
      const started = performance.now();
      const response = await fx.post("/api/chat", user.cookie, {
        conversationId: user.conversation,
        appId: created.app.id,
        trigger: "submit-message",
        message: { id: clientId(), text: questions[i % questions.length] },
        payment,
      });
      if (!response.ok) {
        failures++;
        console.error(`request ${i}: ${response.status} ${await response.text()}`);
        return;
      }
      let firstToken: number | undefined;
      const chunks = await readChunks(response, (chunk) => {
        if (chunk.type === "text-delta" && firstToken === undefined) firstToken = performance.now();
      });
      if (!chunks.some((c) => c.type === "finish")) failures++;
      if (record && firstToken !== undefined) overheads.push(firstToken - started);
    };

    /** Each of the 20 chats sends its next message every `periodMs` (0: as soon as its answer ends). */
    const run = async (from: number, to: number, record: boolean, periodMs: number) => {
      let next = from;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, lane) => {
          if (periodMs) await new Promise((r) => setTimeout(r, (lane * periodMs) / CONCURRENCY));
          while (next < to) {
            const began = performance.now();
            await one(next++, record);
            const wait = periodMs - (performance.now() - began);
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
        }),
      );
    };
    await run(0, WARMUP, false, 0);
    const requestsBefore = standIn.requests.length;
    // Overhead at the target load: 20 chats, together 50 messages per second.
    await run(WARMUP, WARMUP + PACED, true, (CONCURRENCY * 1000) / TARGETS.requestsPerSec);
    for (const r of standIn.requests.slice(requestsBefore)) if (r.firstTokenMs !== undefined) standInTtft.push(r.firstTokenMs);
    // Throughput: the same 20 chats without pauses.
    const t0 = performance.now();
    await run(WARMUP + PACED, total, false, 0);
    const seconds = (performance.now() - t0) / 1000;
    const modelTtft = standInTtft.length ? percentile(standInTtft, 50) : 0;

    const result = {
      overheadMs: {
        p50: Math.round((percentile(overheads, 50) - modelTtft) * 10) / 10,
        p95: Math.round((percentile(overheads, 95) - modelTtft) * 10) / 10,
      },
      concurrency: CONCURRENCY,
      requestsPerSec: Math.round((REQUESTS / seconds) * 10) / 10,
      requests: { pacedAt50PerSec: PACED, saturation: REQUESTS },
      failures,
      chunks: chunkCount,
      modelTimeToFirstTokenMs: Math.round(modelTtft * 100) / 100,
      paid: true,
      measuredAt: new Date().toISOString(),
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "chat.json"), `${JSON.stringify(result, null, 2)}\n`);
    const rows: [string, string, string, boolean][] = [
      ["overhead p50 (ms)", String(result.overheadMs.p50), "", true],
      ["overhead p95 (ms)", String(result.overheadMs.p95), `<= ${TARGETS.overheadP95Ms}`, result.overheadMs.p95 <= TARGETS.overheadP95Ms],
      ["requests per second", String(result.requestsPerSec), `>= ${TARGETS.requestsPerSec}`, result.requestsPerSec >= TARGETS.requestsPerSec],
      ["failed requests", String(failures), "0", failures === 0],
    ];
    console.log(
      `\nChat: ${CONCURRENCY} concurrent wallets, ${chunkCount.toLocaleString("en-US")} chunks, every request paid with a signed receipt.` +
        `\nOverhead from ${PACED} requests paced at ${TARGETS.requestsPerSec}/s in total; requests per second from ${REQUESTS} sent back to back.\n`,
    );
    for (const [name, value, target, ok] of rows) console.log(`${name.padEnd(24)}${value.padStart(10)}   ${target}${ok ? "" : "   MISSED"}`);
    console.log("\nwrote bench/results/chat.json");
    if (rows.some(([, , , ok]) => !ok)) process.exitCode = 1;
  } finally {
    await db.$disconnect();
    await stack.stop();
    await standIn.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
