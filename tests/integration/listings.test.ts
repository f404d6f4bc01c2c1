// Listing each kind on a real chain over real HTTP: drafts through the API, KipAssets.list sent from the
// creator's key, the server confirming from the mined receipt, and every rejection path leaving nothing
// behind. Anvil accounts #6 (data owner and model creator) and #7 (app developer).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createPublicClient, createWalletClient, http as viemHttp, keccak256, parseEther, parseEventLogs, toBytes, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "@/lib/chain/generated";
import { encodeSettle, hashSession, nextVoucherFields, recordHash, signSession, signVoucher, type Session } from "@/lib/protocol";
import { createDb } from "@/lib/db-client";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { STAND_IN_HOST } from "../helpers/openai-stand-in";
import { makePdf } from "../helpers/pdf";
import { signInOverHttp } from "../helpers/siwe";
import { callApp, type Json } from "../helpers/http";

const stack = inject("stack");
const assets = stack.deployment.assets as Hex;
const publicClient = createPublicClient({ transport: viemHttp(stack.rpcUrl) });
const owner = privateKeyToAccount(ANVIL_KEYS[6]);
const developer = privateKeyToAccount(ANVIL_KEYS[7]);
const rows = createDb(stack.databaseUrl);

type Draft = { id: string; status: string; slotId: number | null; transaction: { kind: number; price: string; uri: string; contentHash: Hex } };

async function signIn(account: PrivateKeyAccount): Promise<string> {
  return signInOverHttp(stack.appUrl, stack.chainId, account);
}

const call = (cookie: string | null, path: string, init: RequestInit & { json?: unknown } = {}) => callApp(stack.appUrl, cookie, path, init);

/** Send KipAssets.list for a draft from `account`; returns the mined receipt's hash. */
async function sendList(account: PrivateKeyAccount, tx: Draft["transaction"], overrides: Partial<{ price: bigint; contentHash: Hex; gas: bigint }> = {}) {
  const wallet = createWalletClient({ account, transport: viemHttp(stack.rpcUrl) });
  const hash = await wallet.writeContract({
    chain: null,
    address: assets,
    abi: kipAssetsAbi,
    functionName: "list",
    args: [tx.kind, overrides.price ?? BigInt(tx.price), tx.uri, overrides.contentHash ?? tx.contentHash],
    ...(overrides.gas ? { gas: overrides.gas } : {}),
  });
  await publicClient.waitForTransactionReceipt({ hash });
  return hash;
}

async function listDraft(cookie: string, account: PrivateKeyAccount, draft: Draft) {
  const hash = await sendList(account, draft.transaction);
  const confirmed = await call(cookie, `/api/listings/${draft.id}/confirm`, { method: "POST", json: { txHash: hash } });
  expect(confirmed.status).toBe(200);
  expect(confirmed.body.status).toBe("listed");
  return { hash, slotId: confirmed.body.slotId as number };
}

function uploadForm(fields: Record<string, string>, files: { name: string; content: Uint8Array | string; type?: string }[]): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  for (const f of files) form.append("files", new Blob([typeof f.content === "string" ? f.content : new Uint8Array(f.content)], { type: f.type ?? "application/octet-stream" }), f.name);
  return form;
}

const listingCount = (creator: string) => rows.listing.count({ where: { creator } });

// A stand-in OpenAI-compatible endpoint on this machine: answers /v1/chat/completions for one key.
const MODEL_KEY = "sk-test-listing-key-7c1e";
let modelServer: http.Server;
let modelBaseUrl: string;
const seenAuth: string[] = [];

beforeAll(async () => {
  modelServer = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      seenAuth.push(req.headers.authorization ?? "");
      if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "no such route" } }));
        return;
      }
      if (req.headers.authorization !== `Bearer ${MODEL_KEY}`) {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "invalid api key" } }));
        return;
      }
      const body = JSON.parse(raw) as { model: string; messages: { content: string }[] };
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          id: "cmpl-1",
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content: `I am ${body.model}; you said: ${body.messages[0].content.length} characters.` } }],
          usage: { prompt_tokens: 12, completion_tokens: 9 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => modelServer.listen(0, STAND_IN_HOST, resolve));
  modelBaseUrl = `http://${STAND_IN_HOST}:${(modelServer.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await rows.$disconnect();
  await new Promise((resolve) => modelServer?.close(resolve));
});

const modelFields = { name: "Stand-in chat model", description: "A local OpenAI-compatible endpoint used by the listing tests.", tags: ["test"], price: "0.003" };

describe("listing while signed out or with bad input", () => {
  it("refuses every create route without a session, and cross-site posts", async () => {
    for (const path of ["/api/models", "/api/apps", "/api/models/test"]) {
      const { status, body } = await call(null, path, { method: "POST", json: {} });
      expect(status).toBe(401);
      expect(body.error?.message).toMatch(/Sign in/);
    }
    const upload = await call(null, "/api/datasets", { method: "POST", body: uploadForm({}, [{ name: "a.txt", content: "hello" }]) });
    expect(upload.status).toBe(401);
    const cookie = await signIn(owner);
    const foreign = await call(cookie, "/api/models", { method: "POST", json: modelFields, headers: { origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
  });

  it("names the bad field: URLs, prices out of range, too many decimals", async () => {
    const cookie = await signIn(owner);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...modelFields, provider: "openai-compatible", baseUrl: "ftp://x.example", modelName: "m" }, /baseUrl: must be an http\(s\) URL/],
      [{ ...modelFields, provider: "openai-compatible", baseUrl: "https://u:p@x.example/v1", modelName: "m" }, /baseUrl: must not contain credentials/],
      [{ ...modelFields, provider: "openai-compatible", baseUrl: "https://x.example/v1" }, /modelName/],
      [{ ...modelFields, provider: "offline", price: "1000.5" }, /price: must be at most 1000/],
      [{ ...modelFields, provider: "offline", price: "-1" }, /price: must be a decimal number/],
      [{ ...modelFields, provider: "offline", price: "0.0000001" }, /price: mUSD has 6 decimals/],
      [{ ...modelFields, provider: "offline", name: "x" }, /name: must be at least 3 characters/],
    ];
    const before = await listingCount(owner.address);
    for (const [body, message] of cases) {
      const response = await call(cookie, "/api/models", { method: "POST", json: body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error?.message).toMatch(message);
    }
    expect(await listingCount(owner.address)).toBe(before);
  });

  it("rejects bad uploads with a message per file and stores nothing", async () => {
    const cookie = await signIn(owner);
    const fields = { name: "Bad upload", description: "Should never be stored at all.", license: "CC0", price: "0.001", tags: "" };
    const before = await listingCount(owner.address);
    const cases: [FormData, number, RegExp][] = [
      [uploadForm(fields, []), 400, /Add at least one file/],
      [uploadForm(fields, [{ name: "empty.txt", content: "" }]), 400, /empty.txt is empty/],
      [uploadForm(fields, [{ name: "fake.pdf", content: "not a pdf", type: "application/pdf" }]), 415, /fake.pdf is not a PDF/],
      [uploadForm(fields, [{ name: "scan.pdf", content: makePdf([[]]) }]), 400, /scan.pdf has no extractable text/],
      [uploadForm(fields, [{ name: "photo.txt", content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]) }]), 415, /photo.txt is a PNG image/],
      [uploadForm(fields, [{ name: "big.txt", content: "a".repeat(5 * 1024 * 1024 + 1) }]), 413, /big.txt is 5.0 MB; each file may be at most 5.0 MB/],
      [uploadForm(fields, [{ name: "good.txt", content: "Perfectly good text." }, { name: "bad.json", content: "{oops" }]), 400, /bad.json is not valid JSON/],
      [uploadForm({ ...fields, price: "5000" }, [{ name: "good.txt", content: "Perfectly good text." }]), 400, /price: must be at most 1000/],
    ];
    for (const [form, status, message] of cases) {
      const response = await call(cookie, "/api/datasets", { method: "POST", body: form });
      expect(response.status, String(message)).toBe(status);
      expect(response.body.error?.message).toMatch(message);
    }
    // Each refused file is named with its own reason, so the form can mark its row and send the rest.
    const mixed = await call(cookie, "/api/datasets", {
      method: "POST",
      body: uploadForm(fields, [
        { name: "good.txt", content: "Perfectly good text." },
        { name: "scan.pdf", content: makePdf([[]]) },
        { name: "bad.json", content: "{oops" },
      ]),
    });
    expect(mixed.status).toBe(400);
    expect((mixed.body.error as { files?: { name: string; message: string }[] }).files).toEqual([
      { name: "scan.pdf", message: expect.stringMatching(/^scan\.pdf has no extractable text/) },
      { name: "bad.json", message: expect.stringMatching(/^bad\.json is not valid JSON/) },
    ]);
    expect(await listingCount(owner.address)).toBe(before);
  });
});

describe("Test connection", () => {
  it("sends one real request with the key and shows the reply; says why when it fails", async () => {
    const cookie = await signIn(owner);
    const ok = await call(cookie, "/api/models/test", { method: "POST", json: { provider: "openai-compatible", baseUrl: modelBaseUrl, modelName: "tiny-chat", apiKey: MODEL_KEY } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, model: "tiny-chat", usage: { completionTokens: 9 } });
    expect(ok.body.reply).toMatch(/^I am tiny-chat; you said: \d+ characters\.$/);

    const wrongKey = await call(cookie, "/api/models/test", { method: "POST", json: { provider: "openai-compatible", baseUrl: modelBaseUrl, modelName: "tiny-chat", apiKey: "sk-wrong" } });
    expect(wrongKey.status).toBe(502);
    expect(wrongKey.body.error?.message).toMatch(/refused the request \(401\): check the API key/);
    // The endpoint's own words are not echoed back.
    expect(wrongKey.body.error?.message).not.toMatch(/invalid api key/);

    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer();
      s.listen(0, STAND_IN_HOST, () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const unreachable = await call(cookie, "/api/models/test", { method: "POST", json: { provider: "openai-compatible", baseUrl: `http://${STAND_IN_HOST}:${closed}/v1`, modelName: "m" } });
    expect(unreachable.status).toBe(502);
    expect(unreachable.body.error?.message).toMatch(/Could not reach http:\/\/127\.0\.0\.2:\d+\/v1: nothing is listening at that address/);

    const offline = await call(cookie, "/api/models/test", { method: "POST", json: { provider: "offline" } });
    expect(offline.body).toMatchObject({ ok: true, provider: "offline", model: "kip-offline-extractive-1" });
    expect(offline.body.reply).toMatch(/\[1\]/);
  });
});

describe("minting each kind on chain", () => {
  let modelId = "";
  let datasetId = "";
  let app = { id: "", slot: 0, modelSlot: 0 };

  it("lists a model: key encrypted at rest, never returned, draft confirmed from the AssetListed event", async () => {
    const cookie = await signIn(owner);
    const created = await call(cookie, "/api/models", {
      method: "POST",
      json: { ...modelFields, provider: "openai-compatible", baseUrl: `${modelBaseUrl}/`, modelName: "tiny-chat", apiKey: MODEL_KEY },
    });
    expect(created.status).toBe(201);
    const draft = created.body as unknown as Draft & { model: { baseUrl: string; hasApiKey: boolean } };
    modelId = draft.id;
    expect(draft.status).toBe("draft");
    expect(draft.model).toMatchObject({ baseUrl: modelBaseUrl, hasApiKey: true });
    expect(JSON.stringify(created.body)).not.toContain(MODEL_KEY);
    const stored = await rows.modelEndpoint.findUniqueOrThrow({ where: { listingId: modelId }, select: { apiKeyEncrypted: true } });
    expect(stored.apiKeyEncrypted).toMatch(/^v1:/);
    expect(stored.apiKeyEncrypted).not.toContain(MODEL_KEY);

    // Drafts are nobody else's business and never in the marketplace.
    expect((await call(null, `/api/listings/${modelId}`)).status).toBe(404);
    const market = await call(null, `/api/listings?q=${encodeURIComponent("stand-in chat model")}`);
    expect((market.body.listings as { id: string }[]).some((l) => l.id === modelId)).toBe(false);

    // The stored key is used for the stored model's test.
    const stored1 = await call(cookie, `/api/models/${modelId}/test`, { method: "POST" });
    expect(stored1.status).toBe(200);
    expect(seenAuth.at(-1)).toBe(`Bearer ${MODEL_KEY}`);

    const { slotId } = await listDraft(cookie, owner, draft);
    const info = await publicClient.readContract({ address: assets, abi: kipAssetsAbi, functionName: "slotInfo", args: [BigInt(slotId)] });
    expect(info.creator).toBe(owner.address);
    expect(info.kind).toBe(1);
    expect(info.pricePerQuery).toBe(3000n);
    // The metadata URL serves exactly the bytes whose keccak256 is on chain.
    const metadata = await fetch(draft.transaction.uri);
    const text = await metadata.text();
    expect(keccak256(toBytes(text))).toBe(info.contentHash);
    expect(JSON.parse(text)).toMatchObject({ name: modelFields.name, properties: { kind: "model", provider: "openai-compatible", model: "tiny-chat", tags: ["test"] } });
    expect(text).not.toContain(MODEL_KEY);
    const view = await call(null, `/api/listings/${modelId}`);
    expect(view.status).toBe(200);
    expect(JSON.stringify(view.body)).not.toMatch(/baseUrl|apiKey/);
  });

  it("lists a dataset: files encrypted, indexed in the background, searchable, downloadable by the owner only", async () => {
    const cookie = await signIn(owner);
    const csv = "general,saying\nSun Tzu,All warfare is based on deception.\nLincoln,Government of the people shall not perish from the earth.\n";
    const html = "<html><body><h1>Terrain</h1><p>Ground which can be freely traversed by both sides is called accessible.</p></body></html>";
    const form = uploadForm({ name: "Sayings of generals", description: "Quotations for the listing tests, in three formats.", license: "Public domain", price: "0.002", tags: "history, quotes" }, [
      { name: "sayings.csv", content: csv },
      { name: "terrain.html", content: html },
      { name: "attack.pdf", content: makePdf([["The skilful leader subdues the enemy's troops without any fighting."]]) },
    ]);
    const created = await call(cookie, "/api/datasets", { method: "POST", body: form });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const draft = created.body as unknown as Draft & { dataset: { documents: { id: string; filename: string; mimeType: string }[] } };
    datasetId = draft.id;
    expect(draft.dataset.documents.map((d) => [d.filename, d.mimeType])).toEqual([
      ["sayings.csv", "text/csv"],
      ["terrain.html", "text/html"],
      ["attack.pdf", "application/pdf"],
    ]);
    // Raw files at rest are ciphertext.
    const raw = await rows.document.findMany({ where: { datasetId }, orderBy: { position: "asc" }, select: { content: true } });
    expect(Buffer.from(raw[0].content).toString("latin1")).not.toContain("deception");

    let status: Json = {};
    await expect
      .poll(async () => {
        status = (await call(cookie, `/api/datasets/${datasetId}/status`)).body;
        return status.status;
      })
      .toBe("ready");
    expect(status).toMatchObject({ status: "ready", documents: 3, chunkCount: 3 });
    expect(status.bytesIndexed).toBe(status.bytesTotal);

    const search = await call(cookie, `/api/datasets/${datasetId}/search`, { method: "POST", json: { query: "what is warfare based on", k: 2 } });
    expect(search.status).toBe(200);
    const results = search.body.results as { filename: string; score: number; text: string }[];
    expect(results[0].filename).toBe("sayings.csv");
    expect(results[0].text).toContain("saying: All warfare is based on deception.");
    expect(results[0].score).toBeGreaterThan(0);

    const chunks = await call(cookie, `/api/datasets/${datasetId}/chunks?limit=10`);
    expect((chunks.body.chunks as { filename: string }[]).map((c) => c.filename)).toEqual(["sayings.csv", "terrain.html", "attack.pdf"]);

    const download = await fetch(`${stack.appUrl}/api/datasets/${datasetId}/documents/${draft.dataset.documents[0].id}`, { headers: { cookie } });
    expect(download.status).toBe(200);
    expect(await download.text()).toBe(csv);

    // Nobody else reads the files, the passages or the search.
    const other = await signIn(developer);
    expect((await call(other, `/api/datasets/${datasetId}/documents/${draft.dataset.documents[0].id}`)).status).toBe(404);
    expect((await call(other, `/api/datasets/${datasetId}/chunks`)).status).toBe(404);
    expect((await call(other, `/api/datasets/${datasetId}/search`, { method: "POST", json: { query: "warfare" } })).status).toBe(404);
    expect((await call(null, `/api/datasets/${datasetId}/chunks`)).status).toBe(401);

    await listDraft(cookie, owner, draft);
    const metadata = JSON.parse(await (await fetch(draft.transaction.uri)).text()) as { properties: { documents: string[]; content_hash: string } };
    expect(metadata.properties.documents).toHaveLength(3);
    expect(metadata.properties.content_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("lists an app on the model and the dataset, and finds it in the marketplace", async () => {
    const cookie = await signIn(developer);
    const prompt = "You answer questions about generals. Quote your sources.";
    const bad = await call(cookie, "/api/apps", { method: "POST", json: { name: "Generals", description: "Ask about generals and terrain.", price: "0.004", systemPrompt: prompt, modelId, datasetIds: [], topK: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/datasetIds: pick at least one dataset/);
    const notListed = await call(cookie, "/api/apps", { method: "POST", json: { name: "Generals", description: "Ask about generals and terrain.", price: "0.004", systemPrompt: prompt, modelId: "c".repeat(25), datasetIds: [datasetId], topK: 3 } });
    expect(notListed.body.error?.message).toMatch(/modelId: pick a model that is listed/);

    const created = await call(cookie, "/api/apps", {
      method: "POST",
      json: { name: "Generals Q&A", description: "Ask about generals, terrain and deception; answers cite the sayings.", tags: ["history"], price: "0.004", systemPrompt: prompt, modelId, datasetIds: [datasetId], topK: 3 },
    });
    expect(created.status).toBe(201);
    const draft = created.body as unknown as Draft & { app: { systemPrompt: string; topK: number } };
    expect(draft.app).toMatchObject({ systemPrompt: prompt, topK: 3 });
    const { slotId } = await listDraft(cookie, developer, draft);
    expect(slotId).toBeGreaterThan(0);
    app = { id: draft.id, slot: slotId, modelSlot: (await call(null, `/api/listings/${modelId}`)).body.slotId as number };

    const found = await call(null, `/api/listings?q=${encodeURIComponent("generals deception")}&kind=app`);
    expect((found.body.listings as { id: string }[])[0].id).toBe(draft.id);
    // Prefixes and near misses find it too (pg_trgm), after listings holding the words themselves.
    for (const near of ["deceptio", "generls Q&A", "terain"]) {
      const hits = (await call(null, `/api/listings?q=${encodeURIComponent(near)}&kind=app`)).body.listings as { id: string }[];
      expect(hits.map((h) => h.id), near).toContain(draft.id);
    }
    expect(((await call(null, `/api/listings?q=${encodeURIComponent("zqxjv")}`)).body.listings as unknown[]).length).toBe(0);
    const publicView = await call(null, `/api/listings/${draft.id}`);
    expect(JSON.stringify(publicView.body)).not.toContain(prompt);
    expect(publicView.body.app).toMatchObject({ topK: 3, model: { id: modelId }, datasets: [{ id: datasetId }] });
    const metadata = await (await fetch(draft.transaction.uri)).text();
    expect(metadata).not.toContain(prompt);

    const stats = await call(null, `/api/earnings/slots/${slotId}`);
    expect(stats.body).toMatchObject({ asset: { slot: String(slotId), pricePerQuery: "4000", revenue: "0", name: "Generals Q&A", listingId: draft.id }, queries: 0, holders: [{ owner: developer.address, shares: "1000000" }] });
    // A model used by an app cannot be discarded (and listed ones never can).
    const ownerCookie = await signIn(owner);
    expect((await call(ownerCookie, `/api/listings/${modelId}`, { method: "DELETE" })).status).toBe(409);
  });

  it("shows what the chain says: queries served and earnings from settled receipts, holders after a share transfer", async () => {
    const { settlement, paymentToken, feeBps } = stack.deployment;
    const fresh = async () => {
      const account = privateKeyToAccount(generatePrivateKey());
      await publicClient.request({ method: "anvil_setBalance" as never, params: [account.address, `0x${parseEther("1").toString(16)}`] as never });
      return createWalletClient({ account, transport: viemHttp(stack.rpcUrl) });
    };
    const payer = await fresh();
    const settler = await fresh();
    const holder = privateKeyToAccount(generatePrivateKey()).address;
    const payerAddress = payer.account.address;
    const wait = async (hash: Hex) => expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    await wait(await payer.writeContract({ chain: null, address: paymentToken as Hex, abi: mockUsdAbi, functionName: "mint", args: [payerAddress, 1_000_000n] }));
    await wait(await payer.writeContract({ chain: null, address: paymentToken as Hex, abi: mockUsdAbi, functionName: "approve", args: [settlement as Hex, 1_000_000n] }));
    await wait(await payer.writeContract({ chain: null, address: settlement as Hex, abi: kipSettlementAbi, functionName: "deposit", args: [settler.account.address, 1_000_000n] }));

    // One query to the app: the app and the model are charged, settled by the operator the session names.
    const ctx = { chainId: stack.chainId, settlement: settlement as Hex };
    const sessionKey = privateKeyToAccount(generatePrivateKey());
    const { timestamp } = await publicClient.getBlock();
    const session: Session = { payer: payerAddress, key: sessionKey.address, operator: settler.account.address, spendCap: 100_000n, expiry: timestamp + 3600n, nonce: 1n };
    const charged = [
      { slot: BigInt(app.slot), max: 4000n },
      { slot: BigInt(app.modelSlot), max: 5000n },
    ];
    const voucher = { session: hashSession(session), ...nextVoucherFields({ seq: 0n, cumulativeMax: 0n }, charged), issuedAt: timestamp };
    const data = encodeSettle([
      {
        session,
        sessionSignature: { kind: "key", signature: await signSession(payer.account, ctx, session) },
        voucher,
        voucherSignature: await signVoucher(sessionKey, ctx, voucher),
        records: [
          {
            app: BigInt(app.slot),
            charges: charged.map(({ slot, max }) => ({ slot, amount: max })),
            tokensIn: 10,
            tokensOut: 5,
            recordHash: recordHash({ id: "listing-test", question: "q", answer: "a", passages: [] }),
          },
        ],
      },
    ]);
    await wait(await settler.sendTransaction({ chain: null, to: settlement as Hex, data }));

    // A quarter of the app's shares go to another address (ERC-3525 value transfer to a new token).
    const developerWallet = createWalletClient({ account: developer, transport: viemHttp(stack.rpcUrl) });
    const holders = (await call(null, `/api/earnings/slots/${app.slot}`)).body.holders as { tokenId: string }[];
    await wait(
      await developerWallet.writeContract({ chain: null, address: assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [BigInt(holders[0].tokenId), holder, 250_000n] }),
    );

    const stats = await call(null, `/api/earnings/slots/${app.slot}`);
    const net = 4000n - (4000n * BigInt(feeBps)) / 10_000n;
    expect(stats.body).toMatchObject({ queries: 1, gross: "4000", asset: { revenue: net.toString() } });
    expect((stats.body.holders as { owner: string; shares: string }[]).map((h) => [h.owner, h.shares])).toEqual([
      [developer.address, "750000"],
      [holder, "250000"],
    ]);
    // "Most used" puts it ahead of apps no query has paid for.
    const used = (await call(null, "/api/listings?kind=app&sort=most-used")).body.listings as { id: string; queries: number }[];
    expect(used.find((l) => l.id === app.id)?.queries).toBe(1);
    expect(used.map((l) => l.queries)).toEqual([...used.map((l) => l.queries)].sort((a, b) => b - a));
    // The asset page renders the same figures.
    const page = await (await fetch(`${stack.appUrl}/listings/${app.id}`)).text();
    expect(page).toContain(`/chat/${app.id}`);
    expect(page).toMatch(/data-testid="stat-queries"[^>]*>1</);
    expect(page).toMatch(/>75%</);
    expect(page).toMatch(/>25%</);
  });

  it("leaves no orphan: another sender, a mismatched slot and a reverted transaction are not listed", async () => {
    const cookie = await signIn(owner);
    const created = await call(cookie, "/api/models", { method: "POST", json: { ...modelFields, name: "Offline twin", provider: "offline" } });
    const draft = created.body as unknown as Draft;

    // The same listing sent by someone else.
    const fromOther = await sendList(developer, draft.transaction);
    const forbidden = await call(cookie, `/api/listings/${draft.id}/confirm`, { method: "POST", json: { txHash: fromOther } });
    expect(forbidden.status).toBe(403);

    // A slot whose price is not the draft's.
    const mismatched = await sendList(owner, draft.transaction, { price: 1n });
    const wrong = await call(cookie, `/api/listings/${draft.id}/confirm`, { method: "POST", json: { txHash: mismatched } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error?.message).toMatch(/price differ/);

    // A reverted transaction that is not this draft's listing changes nothing.
    const wallet = createWalletClient({ account: owner, transport: viemHttp(stack.rpcUrl) });
    const unrelated = await wallet.writeContract({ chain: null, address: assets, abi: kipAssetsAbi, functionName: "setPrice", args: [999_999n, 1n], gas: 100_000n });
    expect((await publicClient.waitForTransactionReceipt({ hash: unrelated })).status).toBe("reverted");
    const notList = await call(cookie, `/api/listings/${draft.id}/confirm`, { method: "POST", json: { txHash: unrelated } });
    expect(notList.status).toBe(400);
    expect(notList.body.error?.message).toMatch(/not a KipAssets.list call for this draft/);
    expect((await call(cookie, `/api/listings/${draft.id}`)).body.status).toBe("draft");

    // A listing transaction that reverts (price above uint80) is recorded as failed.
    const reverted = await sendList(owner, draft.transaction, { price: 1n << 80n, gas: 300_000n });
    const receipt = await publicClient.getTransactionReceipt({ hash: reverted });
    expect(receipt.status).toBe("reverted");
    const failed = await call(cookie, `/api/listings/${draft.id}/confirm`, { method: "POST", json: { txHash: reverted } });
    expect(failed.body).toMatchObject({ status: "failed", slotId: null });
    expect(failed.body.failure).toMatch(/reverted/);

    // Still not in the marketplace; it can be retried, then a discarded draft is gone.
    expect((await call(null, `/api/listings/${draft.id}`)).status).toBe(404);
    const discarded = await call(cookie, `/api/listings/${draft.id}`, { method: "DELETE" });
    expect(discarded.status).toBe(200);
    expect(await rows.listing.count({ where: { id: draft.id } })).toBe(0);
    expect((await call(cookie, `/api/listings/${draft.id}`)).status).toBe(404);
  });

  it("edits the price with setPrice and the description with setMetadata, synced from the chain", async () => {
    const cookie = await signIn(owner);
    const plan = await call(cookie, `/api/listings/${modelId}`, { method: "PATCH", json: { price: "0.005", description: "A local endpoint used by the tests, now with a new description." } });
    expect(plan.status).toBe(200);
    const onChain = plan.body.onChain as { slot: number; setPrice: { price: string }; setMetadata: { uri: string; contentHash: Hex } };
    expect(onChain.setPrice.price).toBe("5000");
    // Nothing changes before the chain does.
    expect((await call(null, `/api/listings/${modelId}`)).body.description).toBe(modelFields.description);

    const wallet = createWalletClient({ account: owner, transport: viemHttp(stack.rpcUrl) });
    const priceTx = await wallet.writeContract({ chain: null, address: assets, abi: kipAssetsAbi, functionName: "setPrice", args: [BigInt(onChain.slot), 5000n] });
    const metaTx = await wallet.writeContract({
      chain: null,
      address: assets,
      abi: kipAssetsAbi,
      functionName: "setMetadata",
      args: [BigInt(onChain.slot), onChain.setMetadata.uri, onChain.setMetadata.contentHash],
    });
    const metaReceipt = await publicClient.waitForTransactionReceipt({ hash: metaTx });
    expect(parseEventLogs({ abi: kipAssetsAbi, eventName: "MetadataUpdated", logs: metaReceipt.logs })).toHaveLength(1);
    await publicClient.waitForTransactionReceipt({ hash: priceTx });
    const synced = await call(cookie, `/api/listings/${modelId}/sync`, { method: "POST", json: { txHash: metaTx } });
    expect(synced.status).toBe(200);
    expect(synced.body).toMatchObject({ pricePerQuery: "5000", description: "A local endpoint used by the tests, now with a new description.", pendingEdit: null });
    const info = await publicClient.readContract({ address: assets, abi: kipAssetsAbi, functionName: "slotInfo", args: [BigInt(onChain.slot)] });
    const served = await (await fetch(onChain.setMetadata.uri)).text();
    expect(keccak256(toBytes(served))).toBe(info.contentHash);
  });
});
