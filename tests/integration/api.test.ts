// The OpenAI-compatible API over real HTTP, driven by the `openai` npm package against the running app:
// keys are created and activated by a wallet, answers stream or not with usage and their sources, each
// query is paid through the key's own spending session and settles on chain, and every refusal comes in
// OpenAI's error shape (caps 402, revoked or expired keys 401, unknown apps 404, bad bodies 400, 413).
import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { appSlug } from "../../lib/api/completions";
import { createDb, type Db } from "../../lib/db-client";
import { decodeSettle, signSession } from "../../lib/protocol";
import type { ChargeSet } from "../../lib/chat/types";
import { ChatFixtures, clientId } from "../helpers/chat-fixtures";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const fx = new ChatFixtures(stack);
const PELICANS =
  "The brown pelican dives from the air to scoop fish into its throat pouch. Pelicans drain the water from the pouch before swallowing the catch.";
const REPLY = "Pelicans scoop fish into the pouch and drain the water first [1].";

let db: Db;
let standIn: StandIn;
let appId: string;
let appName: string;
let charges: ChargeSet;
let maxTotal: bigint;

interface KeyView {
  id: string;
  status: string;
  session: { payer: Hex; key: Hex; operator: Hex; spendCap: string; expiry: string; nonce: string } | null;
  usage: { queries: number; total: string; today: string };
  alerts: string[];
}

/** A paying wallet: funded, signed in. */
async function wallet(deposit = 1_000_000n) {
  const account = await fx.account();
  await fx.deposit(account, deposit);
  return { account, cookie: await fx.signIn(account) };
}

/** Creates a key as the dashboard does, and signs its Session with the wallet. */
async function createKey(owner: { account: PrivateKeyAccount; cookie: string }, caps: { daily?: bigint; monthly?: bigint; total?: bigint } = {}) {
  const response = await fx.post("/api/keys", owner.cookie, {
    name: "test key",
    dailyCap: String(caps.daily ?? 1_000_000n),
    monthlyCap: String(caps.monthly ?? 1_000_000n),
    totalCap: String(caps.total ?? 1_000_000n),
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  });
  expect(response.status).toBe(201);
  const { secret, key } = (await response.json()) as { secret: string; key: KeyView };
  expect(key.status).toBe("pending");
  const s = key.session!;
  const session = { payer: s.payer, key: s.key, operator: s.operator, spendCap: BigInt(s.spendCap), expiry: BigInt(s.expiry), nonce: BigInt(s.nonce) };
  expect(session.operator).toBe(fx.operator);
  const signature = await signSession(owner.account, { chainId: stack.chainId, settlement: fx.settlement }, session);
  const activated = await fx.post(`/api/keys/${key.id}/session`, owner.cookie, { signature });
  expect(activated.status).toBe(200);
  expect(((await activated.json()) as { key: KeyView }).key.status).toBe("active");
  return { secret, id: key.id, client: new OpenAI({ baseURL: `${stack.appUrl}/api/v1`, apiKey: secret, maxRetries: 0 }) };
}

function post(secret: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${stack.appUrl}/api/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}`, ...headers },
    body,
  });
}

async function expectApiError(promise: Promise<unknown>, status: number, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  const apiError = error as APIError;
  expect({ status: apiError.status, code: apiError.code }).toEqual({ status, code });
  expect(typeof apiError.type).toBe("string");
  expect(apiError.message.length).toBeGreaterThan(10);
  return apiError;
}

const question = [{ role: "user" as const, content: "How do pelicans catch fish with the pouch?" }];

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  standIn = await startStandIn({ reply: () => REPLY });
  const created = await fx.createApp(db, {
    systemPrompt: "You are the Pelican Guide.",
    prices: { app: 4000n, model: 3000n, datasets: [2000n] },
    datasets: [{ name: "Seabirds", text: PELICANS }],
    baseUrl: standIn.url,
  });
  appId = created.app.id;
  // A name of its own, so its slug names only this app.
  appName = `Pelican Guide ${appId.slice(-6)}`;
  await db.listing.update({ where: { id: appId }, data: { name: appName } });
  charges = await fx.chargeSet(appId);
  maxTotal = BigInt(charges.maxTotal);
});

afterAll(async () => {
  await standIn?.stop();
  await db?.$disconnect();
});

describe("answers through the openai package", () => {
  let owner: Awaited<ReturnType<typeof wallet>>;
  let key: Awaited<ReturnType<typeof createKey>>;

  beforeAll(async () => {
    owner = await wallet();
    key = await createKey(owner);
  });

  it("lists the apps as models", async () => {
    const models = await key.client.models.list();
    const model = models.data.find((m) => m.id === appId) as unknown as { id: string; object: string; kip_slug: string } | undefined;
    expect(model).toMatchObject({ id: appId, object: "model", kip_slug: appSlug(appName) });
  });

  it("answers without streaming, with usage, citations and sources, and the query settles on chain", async () => {
    const completion = await key.client.chat.completions.create({ model: appId, messages: question });
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0].message).toMatchObject({ role: "assistant", content: REPLY });
    expect(completion.choices[0].finish_reason).toBe("stop");
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    const extra = completion as unknown as { kip_sources: { n: number; dataset_name: string; chunk_id: string }[]; kip_charge: { receipt_id: string; total: string } };
    // A plain-text document has no title or sections of its own: it is cited by its file name.
    expect(extra.kip_sources[0]).toMatchObject({ n: 1, dataset_name: "Seabirds", document_name: "seabirds.txt", document_title: "", section: [], page: null, citation: "seabirds.txt" });
    expect(BigInt(extra.kip_charge.total)).toBeGreaterThan(0n);

    // A query like any chat message: its receipt settles, and its record is in the settlement's calldata.
    const receiptId = extra.kip_charge.receipt_id;
    await expect.poll(async () => (await db.receipt.findUniqueOrThrow({ where: { id: receiptId } })).status, { timeout: 30_000 }).toBe("settled");
    const receipt = await db.receipt.findUniqueOrThrow({ where: { id: receiptId } });
    const tx = await fx.client.getTransaction({ hash: receipt.txHash as Hex });
    const items = decodeSettle(tx.input, tx.from);
    const records = items.flatMap((item) => item.records ?? []);
    expect(records.map((r) => r.recordHash)).toContain(receipt.recordHash);
    const apiKey = await db.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(items.some((item) => item.voucher.session === apiKey.sessionHash)).toBe(true);
  });

  it("streams chat.completion.chunk events, the sources in the last one and the usage after it", async () => {
    const stream = await key.client.chat.completions.create({ model: appSlug(appName), messages: question, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe(REPLY);
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const finish = chunks.find((c) => c.choices[0]?.finish_reason === "stop") as unknown as { kip_sources: { n: number }[] };
    expect(finish.kip_sources[0].n).toBe(1);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it("shows the key's usage in the dashboard's list", async () => {
    const response = await fx.get("/api/keys", owner.cookie);
    const { keys } = (await response.json()) as { keys: (KeyView & { lastUsedAt: string | null })[] };
    const listed = keys.find((k) => k.id === key.id)!;
    expect(listed.usage.queries).toBe(2);
    expect(BigInt(listed.usage.today)).toBeGreaterThan(0n);
    expect(listed.lastUsedAt).not.toBeNull();
  });
});

describe("refusals in OpenAI's error shape", () => {
  it("refuses a query past the key's daily cap with 402", async () => {
    const owner = await wallet();
    const key = await createKey(owner, { daily: maxTotal });
    await key.client.chat.completions.create({ model: appId, messages: question });
    const error = await expectApiError(key.client.chat.completions.create({ model: appId, messages: question }), 402, "daily_cap_reached");
    expect(error.type).toBe("insufficient_quota");
  });

  it("refuses a revoked key with 401, and a key past its expiry with 401", async () => {
    const owner = await wallet();
    const revoked = await createKey(owner);
    expect((await fx.post(`/api/keys/${revoked.id}/revoke`, owner.cookie, {})).status).toBe(200);
    await expectApiError(revoked.client.chat.completions.create({ model: appId, messages: question }), 401, "invalid_api_key");

    const expired = await createKey(owner);
    await db.apiKey.update({ where: { id: expired.id }, data: { expiresAt: Math.floor(Date.now() / 1000) - 1 } });
    const error = await expectApiError(expired.client.chat.completions.create({ model: appId, messages: question }), 401, "invalid_api_key");
    expect(error.message).toMatch(/expired/);
    await expectApiError(new OpenAI({ baseURL: `${stack.appUrl}/api/v1`, apiKey: "kip_not-a-key", maxRetries: 0 }).models.list(), 401, "invalid_api_key");
  });

  it("answers 404 for an unknown model, 400 naming the field for a malformed body, 413 for an oversize one", async () => {
    const owner = await wallet();
    const key = await createKey(owner);
    const notFound = await expectApiError(key.client.chat.completions.create({ model: "no-such-app", messages: question }), 404, "model_not_found");
    expect(notFound.param).toBe("model");

    const wrongShape = await post(key.secret, JSON.stringify({ model: appId, messages: [{ role: "user", content: 5 }] }));
    expect(wrongShape.status).toBe(400);
    const body = (await wrongShape.json()) as { error: { message: string; type: string; param: string; code: string } };
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "messages[0].content" });
    const wrongRole = (await (await post(key.secret, JSON.stringify({ model: appId, messages: [{ role: "robot", content: "hi" }] }))).json()) as typeof body;
    expect(wrongRole.error.param).toBe("messages[0].role");
    const notJson = await post(key.secret, "{ not json");
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as typeof body).error.type).toBe("invalid_request_error");

    const oversize = await post(key.secret, JSON.stringify({ model: appId, messages: [{ role: "user", content: "x".repeat(300 * 1024) }] }));
    expect(oversize.status).toBe(413);
    expect(((await oversize.json()) as typeof body).error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
  });

  it("answers API queries and the same wallet's browser tabs sent at once, each under a number of its own", async () => {
    const owner = await wallet();
    const key = await createKey(owner);
    const tabs = await Promise.all([0, 1].map(() => fx.authorize(owner.cookie, owner.account, { spendCap: 10n ** 12n })));
    for (let round = 0; round < 3; round++) {
      // Each tab signs the account's next number; the API queries (signed by the server) race them for it.
      const payments = await Promise.all(tabs.map((tab) => fx.payment(charges, tab)));
      const [tabResponses, completions] = await Promise.all([
        Promise.all(
          payments.map((payment) =>
            fx.post("/api/chat", owner.cookie, { conversationId: clientId(), appId, trigger: "submit-message", message: { id: clientId(), text: "pelican pouch" }, payment }),
          ),
        ),
        Promise.all([0, 1].map(() => key.client.chat.completions.create({ model: appId, messages: question }))),
      ]);
      for (const completion of completions) expect(completion.choices[0].message.content).toBe(REPLY);
      // The two tabs signed one number: at most one of them takes it.
      const statuses = tabResponses.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
      expect(statuses.filter((s) => s !== 200)).toEqual(Array(statuses.filter((s) => s !== 200).length).fill(409));
      for (const response of tabResponses) await response.text();
    }
    const seqs = (await db.receipt.findMany({ where: { payer: owner.account.address }, select: { seq: true } })).map((r) => Number(r.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(6);
  });

  it("never spends past a key's cap when clients race it", async () => {
    const owner = await wallet();
    const key = await createKey(owner, { total: maxTotal * 3n });
    const second = new OpenAI({ baseURL: `${stack.appUrl}/api/v1`, apiKey: key.secret, maxRetries: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? second : key.client).chat.completions.create({ model: appId, messages: question })),
    );
    const answered = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(answered.length).toBe(3);
    for (const r of refused) expect({ status: (r.reason as APIError).status, code: (r.reason as APIError).code }).toEqual({ status: 402, code: "total_cap_reached" });
    const apiKey = await db.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    const receipts = await db.receipt.findMany({ where: { sessionHash: apiKey.sessionHash!, status: { notIn: ["void", "failed"] } } });
    const held = receipts.reduce((sum, r) => sum + BigInt(r.total ?? r.maxTotal), 0n);
    expect(held).toBeLessThanOrEqual(maxTotal * 3n);
  });
});
