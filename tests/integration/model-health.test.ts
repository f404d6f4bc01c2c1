// Model endpoint health over real HTTP against the running app, with a stand-in model on a local port:
// a probe finds the model up, then down (with a plain reason) when the stand-in stops, and up again when
// it is back; callers asking at once cause one probe; a paid question to an app whose model is down is
// refused before any receipt or message is stored; the pages say so before anyone pays; a probe to an
// address the outbound policy refuses is never sent.
// The test stack runs with periodic probes off (MODEL_PROBE_INTERVAL_MS=0), so every probe here is one the
// test asked for; the periodic ones are tested in tests/unit/model-health.test.ts.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PrivateKeyAccount } from "viem/accounts";
import type { ChargeSet } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import type { ModelHealthView } from "../../lib/models/health-view";
import { answerText, ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const fx = new ChatFixtures(stack);

let db: Db;
let standIn: StandIn;
let created: Awaited<ReturnType<ChatFixtures["createApp"]>>;
let charges: ChargeSet;
let payer: PrivateKeyAccount;
let payerCookie: string;
let creatorCookie: string;
let auth: Awaited<ReturnType<ChatFixtures["authorize"]>>;

const probe = async (modelId: string, cookie = creatorCookie) => {
  const response = await fx.post(`/api/models/${modelId}/health`, cookie, {});
  expect(response.status).toBe(200);
  return (await response.json()) as ModelHealthView;
};
/** Makes the model's last check look a minute older, so the next asked-for probe is not within the gap. */
const age = (modelId: string) => db.$executeRaw`UPDATE "ModelHealth" SET "checkedAt" = "checkedAt" - interval '1 minute' WHERE "listingId" = ${modelId}`;

function ask(conversationId: string, text: string, payment: unknown) {
  return fx.post("/api/chat", payerCookie, { conversationId, appId: created.app.id, trigger: "submit-message", message: { id: clientId(), text }, payment });
}

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  standIn = await startStandIn({ reply: () => "The keeper winds the clockwork [1]." });
  created = await fx.createApp(db, {
    systemPrompt: "Answer from the passages.",
    prices: { app: 1000n, model: 1000n, datasets: [1000n] },
    datasets: [{ name: "Lighthouses", text: "The keeper wound the clockwork that turned the lens every four hours." }],
    baseUrl: standIn.url,
    apiKey: "sk-health-secret",
  });
  charges = await fx.chargeSet(created.app.id);
  payer = await fx.account();
  await fx.deposit(payer, 100_000n);
  payerCookie = await fx.signIn(payer);
  auth = await fx.authorize(payerCookie, payer);
  creatorCookie = await fx.signIn(created.creator);
});

afterAll(async () => {
  await standIn?.stop();
  await db?.$disconnect();
});

describe("model endpoint health", () => {
  it("is up with its latency, probed with the stored key and without a chat request", async () => {
    const health = await probe(created.model.id);
    expect(health).toMatchObject({ status: "up", builtIn: false, reason: null, stale: false });
    expect(health.latencyMs).toBeGreaterThanOrEqual(0);
    expect(standIn.probes).toHaveLength(1);
    expect(standIn.probes[0].headers.authorization).toBe("Bearer sk-health-secret");
    expect(standIn.requests).toHaveLength(0);
    // Anyone may read it, signed in or not.
    const read = await fetch(`${stack.appUrl}/api/models/${created.model.id}/health`);
    expect(await read.json()).toEqual(health);
  });

  it("is probed once however many callers ask at the same moment", async () => {
    await age(created.model.id);
    const before = standIn.probes.length;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => probe(created.model.id, i % 2 ? payerCookie : creatorCookie)));
    expect(standIn.probes.length - before).toBe(1);
    for (const result of results) expect(result.status).toBe("up");
  });

  it("turns down with a plain reason when the endpoint goes away; a paid question is then refused before anything is stored", async () => {
    const port = Number(new URL(standIn.url).port);
    await standIn.stop();
    await age(created.model.id);
    const down = await probe(created.model.id);
    expect(down).toMatchObject({ status: "down", latencyMs: null, stale: false });
    expect(down.reason).toMatch(/nothing is listening at that address.*\(ECONNREFUSED\)/);

    // The pages say so before anyone sends or pays.
    for (const path of [`/chat/${created.app.id}`, `/listings/${created.app.id}`]) {
      const html = await (await fetch(`${stack.appUrl}${path}`)).text();
      // (Booleans: a failure should not print the whole page.)
      expect(html.includes('data-testid="model-down"'), path).toBe(true);
      expect(/Nothing is listening at that address/.test(html), path).toBe(true);
    }
    const modelPage = await (await fetch(`${stack.appUrl}/listings/${created.model.id}`)).text();
    expect(/data-testid="model-health" data-status="down"/.test(modelPage)).toBe(true);

    const conversationId = clientId();
    const receiptsBefore = await db.receipt.count({ where: { payer: payer.address } });
    const response = await ask(conversationId, "Who winds the clockwork?", await fx.payment(charges, auth));
    const body = (await response.json()) as { error: { code: string; message: string; reason: string } };
    expect({ status: response.status, reason: body.error.reason }).toEqual({ status: 502, reason: "model_down" });
    expect(body.error.message).toMatch(/is down \(nothing is listening at that address.*Nothing was sent or charged/);
    expect(await db.receipt.count({ where: { payer: payer.address } })).toBe(receiptsBefore);
    expect(await db.conversation.count({ where: { id: conversationId } })).toBe(0);
    expect(await db.chatMessage.count({ where: { conversationId } })).toBe(0);

    // It comes back on the same address: up again, and the question is answered.
    standIn = await startStandIn({ reply: () => "The keeper winds the clockwork [1]." }, port);
    await age(created.model.id);
    expect(await probe(created.model.id)).toMatchObject({ status: "up", reason: null });
    const answered = await ask(conversationId, "Who winds the clockwork?", await fx.payment(charges, auth));
    expect(answered.status).toBe(200);
    expect(answerText(await readChunks(answered))).toContain("keeper");
    expect(await db.receipt.count({ where: { payer: payer.address } })).toBe(receiptsBefore + 1);
  });

  it("does not refuse on a check that is out of date", async () => {
    await standIn.stop();
    const port = Number(new URL(standIn.url).port);
    await age(created.model.id);
    expect((await probe(created.model.id)).status).toBe("down");
    // Ten minutes old: past what the server trusts, so the question goes to the model (and, as it is
    // down, fails there and is not charged).
    await db.$executeRaw`UPDATE "ModelHealth" SET "checkedAt" = "checkedAt" - interval '10 minutes' WHERE "listingId" = ${created.model.id}`;
    const read = (await (await fetch(`${stack.appUrl}/api/models/${created.model.id}/health`)).json()) as ModelHealthView;
    expect(read).toMatchObject({ status: "down", stale: true });
    const response = await ask(clientId(), "Who winds the clockwork?", await fx.payment(charges, auth));
    expect(response.status).toBe(200);
    expect((await readChunks(response)).find((c) => c.type === "error")?.errorText).toMatch(/not charged/i);
    standIn = await startStandIn({}, port);
  });

  it("refuses to probe an internal address the outbound policy does not allow, and sends nothing there", async () => {
    let received = 0;
    const internal = http.createServer((_req, res) => {
      received++;
      res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
    });
    await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = internal.address() as AddressInfo;
      const draft = await db.listing.create({
        data: { chainId: stack.chainId, assets: stack.deployment.assets, kind: "model", creator: created.creator.address, name: "Internal", description: "internal", pricePerQuery: "1", metadataJson: "", contentHash: "" },
      });
      await db.modelEndpoint.create({ data: { listingId: draft.id, provider: "openai-compatible", baseUrl: `http://127.0.0.1:${port}/v1`, modelName: "m" } });
      const health = await probe(draft.id);
      expect(health).toMatchObject({ status: "down", latencyMs: null });
      expect(health.reason).toMatch(/127\.0\.0\.1, a loopback address/);
      expect(received).toBe(0);
      // A draft is its creator's business only.
      const other = await fx.post(`/api/models/${draft.id}/health`, payerCookie, {});
      expect(other.status).toBe(404);
      expect((await fetch(`${stack.appUrl}/api/models/${draft.id}/health`)).status).toBe(404);
    } finally {
      await new Promise((resolve) => internal.close(resolve));
    }
  });

  it("needs a signed-in caller to probe", async () => {
    const response = await fx.post(`/api/models/${created.model.id}/health`, "", {});
    expect(response.status).toBe(401);
  });
});
