// Model endpoint health against a real (temporary, migrated) PostgreSQL and a stand-in model server: a
// model that goes down is found down with a plain reason, and up again when it comes back; any number of
// servers probing one database probe each model once per interval between them; a probe to an address
// the outbound policy refuses is never sent; a probe that hangs is cut at its timeout.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptString, modelApiKeyAad } from "@/lib/crypto";
import { createDb, type Db } from "@/lib/db-client";
import { claimProbe, healthView, probeNow, ProbeSlots, runHealthProbes, staleAfterMs, type HealthDeps } from "@/lib/models/health";
import { isDown } from "@/lib/models/health-view";
import { parseOutboundPolicy, policyFetch } from "@/lib/net/outbound";
import { migrateDatabase } from "../../scripts/stack/db";
import { startTemporaryPostgres, type PostgresHandle } from "../../scripts/stack/postgres";
import { startStandIn, STAND_IN_HOST, type StandIn } from "../helpers/openai-stand-in";

const key = `0x${crypto.randomBytes(32).toString("hex")}`;
// The test stack's policy: the stand-ins' address only, every other internal address refused.
const policyFetchAllowingStandIns = policyFetch(parseOutboundPolicy(STAND_IN_HOST, false));
let server: PostgresHandle;
let db: Db;
let deps: HealthDeps;
const INTERVAL = 60_000;

async function newModel(baseUrl: string, options: { apiKey?: string; status?: string } = {}): Promise<string> {
  const listing = await db.listing.create({
    data: { chainId: 31337, assets: "0x0000000000000000000000000000000000000001", kind: "model", creator: "0x0000000000000000000000000000000000000002", name: "m", description: "m", pricePerQuery: "1", metadataJson: "", contentHash: "", status: options.status ?? "listed" },
  });
  await db.modelEndpoint.create({
    data: {
      listingId: listing.id,
      provider: "openai-compatible",
      baseUrl,
      modelName: "stand-in-chat",
      apiKeyEncrypted: options.apiKey ? encryptString(options.apiKey, key, modelApiKeyAad(listing.id)) : null,
    },
  });
  return listing.id;
}

/** Makes the model's last check look `ms` older, as if time had passed. */
const age = (id: string, ms: number) => db.$executeRaw`UPDATE "ModelHealth" SET "checkedAt" = "checkedAt" - make_interval(secs => ${ms / 1000}::float8) WHERE "listingId" = ${id}`;

beforeAll(async () => {
  server = await startTemporaryPostgres("kip-health-");
  await migrateDatabase(server.url);
  db = createDb(server.url);
  deps = { db, fetch: policyFetchAllowingStandIns, encryptionKey: key };
}, 60_000);

afterAll(async () => {
  await db?.$disconnect();
  await server?.stop();
});

describe("probing a model endpoint", () => {
  let standIn: StandIn;
  afterAll(() => standIn?.stop());

  it("finds it up (with its latency and the stored key), down with a plain reason when it goes away, and up when it is back", async () => {
    standIn = await startStandIn({ modelsDelayMs: 40 });
    const port = Number(new URL(standIn.url).port);
    const id = await newModel(standIn.url, { apiKey: "sk-probe-secret" });

    const up = await probeNow(deps, id, { intervalMs: INTERVAL });
    expect(up).toMatchObject({ status: "up", builtIn: false, reason: null, stale: false });
    expect(up!.latencyMs).toBeGreaterThanOrEqual(35);
    expect(standIn.probes).toHaveLength(1);
    expect(standIn.probes[0]).toMatchObject({ path: "/v1/models" });
    expect(standIn.probes[0].headers.authorization).toBe("Bearer sk-probe-secret");
    // A probe is not a chat: nothing that costs tokens was sent.
    expect(standIn.requests).toHaveLength(0);

    // It fails: down, with what it answered in words and how long it took.
    standIn.options.models = "fail";
    await age(id, 60_000);
    const failing = await probeNow(deps, id, { intervalMs: INTERVAL });
    expect(failing).toMatchObject({ status: "down", reason: "the endpoint failed (500)" });
    expect(failing!.latencyMs).toBeGreaterThanOrEqual(35);
    expect(isDown(failing)).toBe(true);

    // It goes away: down, and the reason says what to check.
    await standIn.stop();
    await age(id, 60_000);
    const gone = await probeNow(deps, id, { intervalMs: INTERVAL });
    expect(gone).toMatchObject({ status: "down", latencyMs: null });
    expect(gone!.reason).toMatch(/nothing is listening at that address.*\(ECONNREFUSED\)/);

    // Within the gap, asking again probes nothing and keeps the result.
    const again = await probeNow(deps, id, { intervalMs: INTERVAL });
    expect(again).toEqual(gone);

    // It comes back on the same address: up again.
    standIn = await startStandIn({}, port);
    await age(id, 60_000);
    expect(await probeNow(deps, id, { intervalMs: INTERVAL })).toMatchObject({ status: "up", reason: null });
    expect(standIn.probes).toHaveLength(1);
  });

  it("says unknown, not down, for an endpoint that answers but lists no models", async () => {
    const missing = await startStandIn({ models: "missing" });
    try {
      const id = await newModel(missing.url);
      const health = await probeNow(deps, id, { intervalMs: INTERVAL });
      expect(health).toMatchObject({ status: "unknown" });
      expect(health!.reason).toMatch(/does not list its models \(404\)/);
      expect(isDown(health)).toBe(false);
    } finally {
      await missing.stop();
    }
  });

  it("cuts a probe that does not answer at its timeout", async () => {
    const slow = await startStandIn({ modelsDelayMs: 5_000 });
    try {
      const id = await newModel(slow.url);
      const started = Date.now();
      const health = await probeNow({ ...deps, timeoutMs: 300 }, id, { intervalMs: INTERVAL });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(health).toMatchObject({ status: "down", reason: "the endpoint did not answer within 0.3 s" });
    } finally {
      await slow.stop();
    }
  });
});

describe("the outbound policy", () => {
  it("refuses a probe to an internal address it does not allow, without sending a request", async () => {
    let received = 0;
    const internal = http.createServer((_req, res) => {
      received++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
    });
    await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = internal.address() as AddressInfo;
      for (const baseUrl of [`http://127.0.0.1:${port}/v1`, `http://localhost:${port}/v1`]) {
        const id = await newModel(baseUrl);
        const health = await probeNow(deps, id, { intervalMs: INTERVAL });
        expect(health).toMatchObject({ status: "down", latencyMs: null });
        expect(health!.reason).toMatch(/a loopback address; the server does not send requests there unless MODEL_HOSTS_ALLOW allows it/);
      }
      expect(received).toBe(0);
    } finally {
      await new Promise((resolve) => internal.close(resolve));
    }
  });
});

describe("several servers on one database", () => {
  it("probe a model once between them however many ask at the same moment", async () => {
    const standIn = await startStandIn({ modelsDelayMs: 100 });
    try {
      const id = await newModel(standIn.url);
      const results = await Promise.all(Array.from({ length: 10 }, () => probeNow(deps, id, { intervalMs: INTERVAL })));
      expect(standIn.probes).toHaveLength(1);
      // Those that lost the claim waited for the winner's result instead of sending their own.
      for (const result of results) expect(result).toMatchObject({ status: "up" });
    } finally {
      await standIn.stop();
    }
  });

  it("probe each listed model once per interval between them, and never a draft", async () => {
    const standIn = await startStandIn();
    try {
      await db.modelHealth.deleteMany();
      await db.modelEndpoint.deleteMany();
      const listed = await newModel(standIn.url);
      await newModel(standIn.url, { status: "draft" });
      // Two servers, each with its own connection pool and its own probes: one database.
      const second = createDb(server.url);
      const stop = new AbortController();
      const intervalMs = 1_000;
      const started = performance.now();
      const runs = [deps, { ...deps, db: second }].map((d) => runHealthProbes(d, { intervalMs, concurrency: 2, signal: stop.signal, log: () => undefined }));
      await new Promise((resolve) => setTimeout(resolve, 4_300));
      stop.abort();
      await Promise.all(runs);
      await second.$disconnect();
      const elapsed = performance.now() - started;
      // One probe per interval at most (each starts at least an interval after the last one finished),
      // where two servers probing on their own would have sent about twice as many.
      expect(standIn.probes.length).toBeGreaterThanOrEqual(2);
      expect(standIn.probes.length).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs));
      for (let i = 1; i < standIn.probes.length; i++) expect(standIn.probes[i].at - standIn.probes[i - 1].at).toBeGreaterThanOrEqual(intervalMs - 50);
      expect((await db.modelHealth.findUniqueOrThrow({ where: { listingId: listed } })).status).toBe("up");
      expect(await db.modelHealth.count()).toBe(1);
    } finally {
      await standIn.stop();
    }
  });

  it("let another server claim a probe whose server died before finishing it", async () => {
    const id = await newModel("http://127.0.0.2:9/v1");
    expect(await claimProbe(db, id, 10_000, 100)).toBe(true);
    expect(await claimProbe(db, id, 10_000, 100)).toBe(false);
    // The first claimant never records a result; its claim lapses (timeout + margin) and is taken over.
    await db.$executeRaw`UPDATE "ModelHealth" SET "probingUntil" = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE "listingId" = ${id}`;
    expect(await claimProbe(db, id, 10_000, 100)).toBe(true);
  });
});

describe("bounds and views", () => {
  it("runs at most the slots' size of probes at once", async () => {
    const slots = new ProbeSlots(2);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        slots.run(async () => {
          most = Math.max(most, ++running);
          await new Promise((resolve) => setTimeout(resolve, 20));
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
  });

  it("shows the offline model as built in and always available, and an old check as out of date (never blocking)", () => {
    expect(healthView("offline", null, 1000)).toMatchObject({ status: "up", builtIn: true });
    expect(healthView("openai-compatible", null, 1000)).toMatchObject({ status: "unknown", checkedAt: null });
    const old = healthView("openai-compatible", { status: "down", latencyMs: null, reason: "x", checkedAt: new Date(Date.now() - staleAfterMs(INTERVAL) - 1000) }, staleAfterMs(INTERVAL));
    expect(old).toMatchObject({ status: "down", stale: true });
    expect(isDown(old)).toBe(false);
  });
});
