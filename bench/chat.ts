// Chat benchmark on PostgreSQL: `npx tsx bench/chat.ts` (part of `npm run bench`).
// Starts the whole stack (embedded PostgreSQL, anvil, contracts, `next start`, the settlement worker,
// which keeps settling throughout), an OpenAI-compatible stand-in model that answers at once, and a paid
// app over 10,000 chunks. 20 wallets (each with a deposit and a spending session) chat concurrently;
// every request carries a fresh signed receipt, so the full paid path runs (rate limits, session,
// signature, charge set, balance on chain minus pending, storage as the account's next voucher number, retrieval,
// streaming, charge fixing).
//   1. saturation: the 20 chats send back to back → requests per second, the app server's CPU time per
//      request (utime + stime of the next-server process tree from /proc) and database round trips per
//      request (the server's own count, /api/health), with how many of them ran as prepared statements;
//   2. latency: the 20 chats paced at half the measured saturation rate → overhead = time to the first
//      streamed token minus the model's own time to first token;
//   3. the same two runs with a second app server on the same database, requests alternating.
// Writes bench/results/chat.json; exits non-zero if a target is missed.
import { nextVoucherFields, type AccountPosition } from "../lib/protocol";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startAppServer, startStack } from "../scripts/stack";
import { freePort } from "../scripts/stack/process";
import { createDb } from "../lib/db-client";
import { ChatFixtures, clientId, readChunks } from "../tests/helpers/chat-fixtures";
import { startStandIn } from "../tests/helpers/openai-stand-in";
import { signDigest } from "../lib/chat/secp256k1";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { overheadP95Ms: 100, requestsPerSec: 100, cpuMsPerPaidMessage: 10 };
const CONCURRENCY = 20;
/** Saturation phase: 20 chats sending back to back. */
const REQUESTS = Number(process.env.BENCH_CHAT_REQUESTS ?? 600);
/** Latency phase: 20 chats paced at half the saturation rate. */
const PACED = Number(process.env.BENCH_CHAT_PACED ?? 300);
const WARMUP = 40;
const CHUNKS = 10_000;
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

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

/** CPU time (ms) used so far by the whole machine, all cores together (busy time in /proc/stat). */
function machineCpuMs(): number {
  const [, ...fields] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time (ms) used so far by this process: the load generator and the stand-in model. */
function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Every running process as /proc lists it: its id, its parent's, its name and its CPU time so far (ms). */
function processes(): { pid: number; ppid: number; name: string; cpuMs: number }[] {
  const list = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // The name is in parentheses and may contain spaces; the fields after it start at state (field 3).
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND; // utime + stime
    list.push({ pid: Number(entry), ppid: Number(fields[1]), name, cpuMs });
  }
  return list;
}

/** CPU time (ms) used so far by every running process, summed by command name (next-server, postgres, anvil, node, …). */
function cpuByCommand(): Map<string, number> {
  const byCommand = new Map<string, number>();
  for (const { name, cpuMs } of processes()) {
    // The kernel truncates names to 15 characters ("next-server (v1"); its own threads are one group.
    const command = name.startsWith("next-server") ? "next-server" : /^(kworker|ksoftirqd|kswapd|rcu_)/.test(name) ? "kernel threads" : name;
    byCommand.set(command, (byCommand.get(command) ?? 0) + cpuMs);
  }
  return byCommand;
}

/** CPU time (ms) used so far by process `pid` and all its descendants, from /proc. */
function treeCpuMs(pid: number): number {
  const all = processes();
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const p of all) {
    cpu.set(p.pid, p.cpuMs);
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const next = stack.pop()!;
    total += cpu.get(next) ?? 0;
    stack.push(...(children.get(next) ?? []));
  }
  return total;
}

/** A server's database queries so far, and how many of them ran as prepared statements (lib/db-pool.ts). */
async function roundTripsOf(url: string): Promise<{ all: number; prepared: number }> {
  const health = (await (await fetch(`${url}/api/health`)).json()) as { databaseRoundTrips: number; preparedRoundTrips: number };
  // The health check's own query (short, so never prepared) is counted before it answers.
  return { all: health.databaseRoundTrips - 1, prepared: health.preparedRoundTrips };
}

async function allRoundTrips(urls: string[]): Promise<{ all: number; prepared: number }> {
  const each = await Promise.all(urls.map(roundTripsOf));
  return { all: each.reduce((n, t) => n + t.all, 0), prepared: each.reduce((n, t) => n + t.prepared, 0) };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

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
    deploymentFile: path.join(dataDir, "deployment.json"),
    persistChain: false,
    seed: false,
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
    const users: { cookie: string; auth: Awaited<ReturnType<ChatFixtures["authorize"]>>; state: AccountPosition | null; conversation: string }[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const payer = await fx.account();
      await fx.deposit(payer, 100_000_000n);
      const cookie = await fx.signIn(payer);
      const auth = await fx.authorize(cookie, payer, { spendCap: 90_000_000n });
      users.push({ cookie, auth, state: null, conversation: clientId() });
    }
    const questions = ["harbor lantern", "granite quarry summit", "copper kiln forge", "violet meadow orchard", "amber jasper onyx"];
    let failures = 0;
    let sent = 0;

    /** One paid message to `url`; the time to its first token when `record` is given. */
    const one = async (url: string, user: (typeof users)[number], record?: number[]) => {
      // Vouchers are signed before the clock starts: signing happens in the user's browser, which builds on
      // the account's previous voucher (tracked here; the chat page reads it from /api/chat/account).
      // The load generator plays 20 users' devices on the server's own machine, so it signs with
      // libsecp256k1 rather than viem's JavaScript (the same signature bytes, a fraction of the CPU): what
      // it spends is taken from the cores the app server is measured on.
      const payment = await fx.payment(charges, user.auth, { previous: user.state, signDigest: (digest) => signDigest(digest, user.auth.privateKey) });
      const fields = nextVoucherFields(user.state ?? { seq: 0n, cumulativeMax: 0n }, charges.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) })));
      user.state = { seq: fields.seq, cumulativeMax: fields.cumulativeMax };
      const started = performance.now();
      const response = await fetch(`${url}/api/chat`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: user.cookie },
        body: JSON.stringify({ conversationId: user.conversation, appId: created.app.id, trigger: "submit-message", message: { id: clientId(), text: questions[sent++ % questions.length] }, payment }),
      });
      if (!response.ok) {
        failures++;
        console.error(`request: ${response.status} ${await response.text()}`);
        return;
      }
      let firstToken: number | undefined;
      const chunks = await readChunks(response, (chunk) => {
        if (chunk.type === "text-delta" && firstToken === undefined) firstToken = performance.now();
      });
      if (!chunks.some((c) => c.type === "finish")) failures++;
      if (record && firstToken !== undefined) record.push(firstToken - started);
    };

    /** `count` messages from the 20 chats over `urls` in turn, each chat every `periodMs` (0: back to back). */
    const run = async (urls: string[], count: number, periodMs: number, record?: number[]) => {
      let next = 0;
      await Promise.all(
        users.map(async (user, lane) => {
          if (periodMs) await new Promise((r) => setTimeout(r, (lane * periodMs) / CONCURRENCY));
          while (next < count) {
            const url = urls[next++ % urls.length];
            const began = performance.now();
            await one(url, user, record);
            const wait = periodMs - (performance.now() - began);
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          }
        }),
      );
    };

    /** Saturation, then latency at half of it, over `urls` (served by the processes `pids`). */
    const measure = async (urls: string[], pids: number[]) => {
      await run(urls, WARMUP, 0);
      const cpuBefore = pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0);
      const machineBefore = machineCpuMs();
      const commandsBefore = cpuByCommand();
      const ownBefore = ownCpuMs();
      const tripsBefore = await allRoundTrips(urls);
      const t0 = performance.now();
      await run(urls, REQUESTS, 0);
      const seconds = (performance.now() - t0) / 1000;
      const cpuMs = pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0) - cpuBefore;
      const machineMs = machineCpuMs() - machineBefore;
      const ownMs = ownCpuMs() - ownBefore;
      const byCommand = Object.fromEntries(
        [...cpuByCommand()]
          .map(([command, ms]) => [command, (ms - (commandsBefore.get(command) ?? 0)) / REQUESTS] as const)
          .filter(([, perMessage]) => perMessage >= 0.1)
          .sort((a, b) => b[1] - a[1])
          .map(([command, perMessage]) => [command, round1(perMessage)]),
      );
      const tripsAfter = await allRoundTrips(urls);
      const saturation = REQUESTS / seconds;
      const pacedAt = saturation / 2;
      const ttft: number[] = [];
      const standInBefore = standIn.requests.length;
      await run(urls, PACED, (CONCURRENCY * 1000) / pacedAt, ttft);
      const modelTtft = percentile(standIn.requests.slice(standInBefore).flatMap((r) => (r.firstTokenMs === undefined ? [] : [r.firstTokenMs])), 50) ?? 0;
      return {
        saturationRequestsPerSec: round1(saturation),
        cpuMsPerPaidMessage: round1(cpuMs / REQUESTS),
        // Where the machine's cores went during the saturation run, per message: every process, and the
        // load generator with the stand-in model (this process); the rest is PostgreSQL, anvil and the
        // settlement worker. The app servers cannot go faster than what the other processes leave them.
        machineCpuMsPerPaidMessage: round1(machineMs / REQUESTS),
        loadGeneratorCpuMsPerPaidMessage: round1(ownMs / REQUESTS),
        busyCores: round1(machineMs / 1000 / seconds),
        /** The same by process name (every process on the machine; "next-server" is the app). */
        cpuMsPerPaidMessageByProcess: byCommand,
        roundTripsPerPaidMessage: round1((tripsAfter.all - tripsBefore.all) / REQUESTS),
        /** Of them, sent as prepared statements (bound and run without being parsed and planned again). */
        preparedRoundTripsPerPaidMessage: round1((tripsAfter.prepared - tripsBefore.prepared) / REQUESTS),
        pacedAtPerSec: round1(pacedAt),
        overheadMs: { p50: round1(percentile(ttft, 50) - modelTtft), p95: round1(percentile(ttft, 95) - modelTtft) },
        modelTimeToFirstTokenMs: Math.round(modelTtft * 100) / 100,
      };
    };

    console.log(`one app server: ${REQUESTS} requests back to back, then ${PACED} at half that rate…`);
    const single = await measure([stack.appUrl], [stack.appPid]);
    console.log(JSON.stringify(single));

    console.log("starting a second app server on the same database…");
    const secondPort = await freePort();
    const secondUrl = `http://localhost:${secondPort}`;
    const second = startAppServer({ port: secondPort, env: stack.env, name: "app-2" });
    let two;
    try {
      await second.ready(secondUrl);
      console.log(`two app servers: the same runs, requests alternating…`);
      two = await measure([stack.appUrl, secondUrl], [stack.appPid, second.child.pid!]);
      console.log(JSON.stringify(two));
    } finally {
      await second.stop();
    }

    const result = {
      database: "postgresql",
      cpuMsPerPaidMessage: single.cpuMsPerPaidMessage,
      machineCpuMsPerPaidMessage: single.machineCpuMsPerPaidMessage,
      loadGeneratorCpuMsPerPaidMessage: single.loadGeneratorCpuMsPerPaidMessage,
      busyCores: single.busyCores,
      cpuMsPerPaidMessageByProcess: single.cpuMsPerPaidMessageByProcess,
      saturationRequestsPerSec: single.saturationRequestsPerSec,
      overheadMs: single.overheadMs,
      pacedAtPerSec: single.pacedAtPerSec,
      concurrency: CONCURRENCY,
      roundTripsPerPaidMessage: single.roundTripsPerPaidMessage,
      preparedRoundTripsPerPaidMessage: single.preparedRoundTripsPerPaidMessage,
      twoServers: {
        saturationRequestsPerSec: two.saturationRequestsPerSec,
        overheadMs: two.overheadMs,
        pacedAtPerSec: two.pacedAtPerSec,
        cpuMsPerPaidMessage: two.cpuMsPerPaidMessage,
        machineCpuMsPerPaidMessage: two.machineCpuMsPerPaidMessage,
        busyCores: two.busyCores,
        roundTripsPerPaidMessage: two.roundTripsPerPaidMessage,
      },
      requests: { warmup: WARMUP, saturation: REQUESTS, paced: PACED },
      failures,
      chunks: chunkCount,
      modelTimeToFirstTokenMs: single.modelTimeToFirstTokenMs,
      settlement: "running",
      cpus: os.cpus().length,
      paid: true,
      measuredAt: new Date().toISOString(),
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "chat.json"), `${JSON.stringify(result, null, 2)}\n`);
    const rows: [string, string, string, boolean][] = [
      ["CPU per paid message (core-ms)", String(result.cpuMsPerPaidMessage), `<= ${TARGETS.cpuMsPerPaidMessage}`, result.cpuMsPerPaidMessage <= TARGETS.cpuMsPerPaidMessage],
      ["saturation (requests/s)", String(result.saturationRequestsPerSec), `>= ${TARGETS.requestsPerSec}`, result.saturationRequestsPerSec >= TARGETS.requestsPerSec],
      [`overhead p95 (ms) at ${result.pacedAtPerSec}/s`, String(result.overheadMs.p95), `<= ${TARGETS.overheadP95Ms}`, result.overheadMs.p95 <= TARGETS.overheadP95Ms],
      ["overhead p50 (ms)", String(result.overheadMs.p50), "", true],
      ["DB round trips per message", String(result.roundTripsPerPaidMessage), "", true],
      ["  of them prepared statements", String(result.preparedRoundTripsPerPaidMessage), "", true],
      [`machine CPU per message (${result.busyCores} of ${result.cpus} cores busy)`, String(result.machineCpuMsPerPaidMessage), "", true],
      ["  of it the load generator and model", String(result.loadGeneratorCpuMsPerPaidMessage), "", true],
      ["two servers: requests/s", String(two.saturationRequestsPerSec), "", true],
      [`two servers: p95 (ms) at ${two.pacedAtPerSec}/s`, String(two.overheadMs.p95), "", true],
      ["failed requests", String(failures), "0", failures === 0],
    ];
    console.log(`\nChat on PostgreSQL: ${CONCURRENCY} concurrent wallets, ${chunkCount.toLocaleString("en-US")} chunks, every request paid with a signed receipt, settlement running.\n`);
    for (const [name, value, target, ok] of rows) console.log(`${name.padEnd(36)}${value.padStart(10)}   ${target}${ok ? "" : "   MISSED"}`);
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
