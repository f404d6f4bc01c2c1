// Datasets that grow, over real HTTP against the running app and a real chain: a dataset is uploaded
// (tus) and listed from its creator's wallet; only the creator may add or remove documents (a stranger
// gets 403); each change is a new version whose metadata the creator commits with setMetadata, and the
// chain then holds exactly that version's hash; apps search the newest version (a removed document's
// passages are never retrieved again); a paid query's record names the dataset version it used, on the
// receipt and bound into the record hash settled on chain. Retrieval scorecards are measured per
// version and shown on the listing.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { keccak256, parseEventLogs, toBytes, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi } from "../../lib/chain/generated";
import type { ChargeSet, SourceRef } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { recordHash, settlementOutcome } from "../../lib/protocol";
import { answerText, ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";

const stack = inject("stack");
const fx = new ChatFixtures(stack);

const HARBOUR = "The harbour master records every ship that enters the breakwater under the moon, with its cargo of timber and salt.";
const TIDES = "Spring tides follow the new moon: the tidal range peaks when the sun and the moon pull together.";
const QUARRY = "Granite from the quarry was cut into kerbstones and shipped downriver on flat barges.";

let db: Db;
let creator: PrivateKeyAccount;
let stranger: PrivateKeyAccount;
let creatorCookie: string;
let strangerCookie: string;
let datasetId: string;
let slot: bigint;
let appId: string;

type VersionsBody = {
  current: number;
  pending: { version: number; contentHash: Hex } | null;
  versions: { number: number; status: string; contentHash: string; metadataHash: string; documents: number; added: { name: string }[]; removed: { name: string }[] }[];
};

async function upload(cookie: string, name: string, text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const created = await fetch(`${stack.appUrl}/api/uploads`, {
    method: "POST",
    headers: { cookie, "tus-resumable": "1.0.0", "upload-length": String(bytes.byteLength), "upload-metadata": `filename ${Buffer.from(name).toString("base64")}` },
  });
  expect(created.status).toBe(201);
  const url = new URL(created.headers.get("location")!, stack.appUrl).toString();
  const patched = await fetch(url, {
    method: "PATCH",
    headers: { cookie, "tus-resumable": "1.0.0", "upload-offset": "0", "content-type": "application/offset+octet-stream" },
    body: Buffer.from(bytes),
  });
  expect(patched.status).toBe(204);
  return url.split("/").pop()!;
}

function send(method: string, path: string, cookie: string | null, body?: unknown, type = "application/json") {
  return fetch(`${stack.appUrl}${path}`, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body !== undefined ? { "content-type": type } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

const versionsOf = async (): Promise<VersionsBody> => (await (await send("GET", `/api/datasets/${datasetId}/versions`, null)).json()) as VersionsBody;
const documentsOf = () => db.document.findMany({ where: { datasetId, removedInVersion: null }, orderBy: { position: "asc" } });

/** Waits (outside a test: beforeAll) until the dataset is indexed, re-reading its state every 100 ms. */
async function waitReady() {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { status, error } = await db.dataset.findUniqueOrThrow({ where: { listingId: datasetId } });
    if (status === "ready") return;
    if (status === "failed" || Date.now() > deadline) throw new Error(`the dataset is ${status}: ${error ?? "still indexing after 30 s"}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The creator's wallet commits the pending version's metadata, and the server reads it back. */
async function signPendingVersion(): Promise<VersionsBody> {
  const before = await versionsOf();
  expect(before.pending).not.toBeNull();
  const hash = await fx.wallet(creator).writeContract({
    address: stack.deployment.assets as Address,
    abi: kipAssetsAbi,
    functionName: "setMetadata",
    args: [slot, `${stack.appUrl}/api/metadata/listings/${datasetId}`, before.pending!.contentHash],
  });
  const receipt = await fx.client.waitForTransactionReceipt({ hash });
  const [event] = parseEventLogs({ abi: kipAssetsAbi, eventName: "MetadataUpdated", logs: receipt.logs });
  expect(event.args.contentHash).toBe(before.pending!.contentHash);
  expect((await send("POST", `/api/listings/${datasetId}/sync`, creatorCookie, { txHash: hash })).status).toBe(200);
  return versionsOf();
}

async function chainContentHash(): Promise<Hex> {
  const info = await fx.client.readContract({ address: stack.deployment.assets as Address, abi: kipAssetsAbi, functionName: "slotInfo", args: [slot] });
  return info.contentHash;
}

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  creator = await fx.account();
  stranger = await fx.account();
  creatorCookie = await fx.signIn(creator);
  strangerCookie = await fx.signIn(stranger);

  // The dataset, uploaded and listed the way the create page does it.
  const uploads = [await upload(creatorCookie, "harbour.txt", HARBOUR), await upload(creatorCookie, "quarry.txt", QUARRY)];
  const created = await send("POST", "/api/datasets", creatorCookie, { name: "Port town", description: "Notes on a port town.", license: "CC0", price: "0.002", tags: "history", uploads });
  expect(created.status).toBe(201);
  const draft = (await created.json()) as { id: string; transaction: { kind: number; price: string; uri: string; contentHash: Hex } };
  datasetId = draft.id;
  await waitReady();
  const listHash = await fx.wallet(creator).writeContract({
    address: stack.deployment.assets as Address,
    abi: kipAssetsAbi,
    functionName: "list",
    args: [draft.transaction.kind, BigInt(draft.transaction.price), draft.transaction.uri, draft.transaction.contentHash],
  });
  await fx.client.waitForTransactionReceipt({ hash: listHash });
  const confirmed = await send("POST", `/api/listings/${datasetId}/confirm`, creatorCookie, { txHash: listHash });
  expect(confirmed.status).toBe(200);
  slot = BigInt(((await confirmed.json()) as { slotId: number }).slotId);

  // A paid app on it with the offline model.
  const model = await fx.list(db, creator, "model", "Offline model (versions)", 1000n, (id) =>
    db.modelEndpoint.create({ data: { listingId: id, provider: "offline", modelName: "kip-offline-extractive-1" } }),
  );
  const app = await fx.list(db, creator, "app", "Port town guide", 3000n, (id) =>
    db.app.create({ data: { listingId: id, systemPrompt: "Answer from the sources.", modelId: model.id, datasets: { create: [{ datasetId }] } } }),
  );
  appId = app.id;
}, 120_000);

afterAll(async () => {
  await db?.$disconnect();
});

describe("who may change a listed dataset", () => {
  it("refuses a stranger's additions and removals with 403, and a signed-out caller with 401, changing nothing", async () => {
    const [harbour] = await documentsOf();
    const strangerUpload = await upload(strangerCookie, "intruder.txt", "An intruder's page about nothing at all.");
    const add = await send("POST", `/api/datasets/${datasetId}/documents`, strangerCookie, { uploads: [strangerUpload] });
    expect(add.status).toBe(403);
    const remove = await send("DELETE", `/api/datasets/${datasetId}/documents/${harbour.id}`, strangerCookie);
    expect(remove.status).toBe(403);
    expect((await send("DELETE", `/api/datasets/${datasetId}/documents/${harbour.id}`, null)).status).toBe(401);
    const pairs = await send("POST", `/api/datasets/${datasetId}/scorecard`, strangerCookie, { pairs: [{ question: "ships?", document: "harbour.txt" }] });
    expect(pairs.status).toBe(403);
    expect((await documentsOf()).map((d) => d.filename)).toEqual(["harbour.txt", "quarry.txt"]);
    expect((await versionsOf()).current).toBe(1);
  });
});

describe("a dataset that grows", () => {
  it("adds a document as version 2, pending on chain until the creator's setMetadata, then the chain holds its hash", async () => {
    const first = await versionsOf();
    expect(first.versions.map((v) => [v.number, v.status])).toEqual([[1, "on chain"]]);
    expect(await chainContentHash()).toBe(first.versions[0].metadataHash);

    const added = await send("POST", `/api/datasets/${datasetId}/documents`, creatorCookie, { uploads: [await upload(creatorCookie, "tides.txt", TIDES)] });
    expect(added.status).toBe(202);
    expect(await added.json()).toMatchObject({ stored: 1, version: 2, refused: [] });
    await expect.poll(async () => (await versionsOf()).current, { timeout: 30_000 }).toBe(2);
    const pending = await versionsOf();
    expect(pending.versions[0]).toMatchObject({ number: 2, status: "pending", documents: 3, added: [{ name: "tides.txt" }], removed: [] });
    expect(pending.pending).toEqual({ version: 2, contentHash: pending.versions[0].metadataHash });
    // The listing page says so.
    const html = await (await fetch(`${stack.appUrl}/listings/${datasetId}`)).text();
    expect(html).toContain("version 2 pending on chain");

    const signed = await signPendingVersion();
    expect(signed.pending).toBeNull();
    expect(signed.versions.map((v) => [v.number, v.status])).toEqual([
      [2, "on chain"],
      [1, "on chain"],
    ]);
    // What the chain holds is the new version's metadata hash, and the slot URI serves exactly that JSON.
    const chainHash = await chainContentHash();
    expect(chainHash).toBe(signed.versions[0].metadataHash);
    const served = await (await fetch(`${stack.appUrl}/api/metadata/listings/${datasetId}`)).text();
    expect(keccak256(toBytes(served))).toBe(chainHash);
    const metadata = JSON.parse(served) as { properties: { version: number; content_hash: string; documents: string[] } };
    expect(metadata.properties).toMatchObject({ version: 2, content_hash: signed.versions[0].contentHash });
    expect(metadata.properties.documents).toHaveLength(3);
  });

  it("refuses a document whose name the dataset already holds, and changes nothing", async () => {
    const again = await send("POST", `/api/datasets/${datasetId}/documents`, creatorCookie, { uploads: [await upload(creatorCookie, "tides.txt", "Other text.")] });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/tides\.txt is already in the dataset/);
    expect((await versionsOf()).current).toBe(2);
    expect((await db.dataset.findUniqueOrThrow({ where: { listingId: datasetId } })).status).toBe("ready");
  });

  it("answers a paid query from the new document, and its record names version 2, on the receipt and on chain", async () => {
    const payer = await fx.account();
    await fx.deposit(payer, 100_000n);
    const cookie = await fx.signIn(payer);
    const auth = await fx.authorize(cookie, payer);
    const charges: ChargeSet = await fx.chargeSet(appId);
    const question = "When do spring tides peak?";
    const response = await fx.post("/api/chat", cookie, {
      conversationId: clientId(),
      appId,
      trigger: "submit-message",
      message: { id: clientId(), text: question },
      payment: await fx.payment(charges, auth),
    });
    expect(response.status).toBe(200);
    const chunks = await readChunks(response);
    const sources = (chunks.find((c) => c.type === "data-sources")!.data as { sources: SourceRef[] }).sources;
    expect(sources[0]).toMatchObject({ documentName: "tides.txt", datasetId, datasetVersion: 2 });
    expect(answerText(chunks).length).toBeGreaterThan(0);

    const receipt = await db.receipt.findFirstOrThrow({ where: { sessionHash: auth.hash }, orderBy: { createdAt: "desc" } });
    expect(JSON.parse(receipt.datasetVersionsJson!)).toEqual([[datasetId, 2]]);
    const messageId = chunks.find((c) => c.type === "start")!.messageId as string;
    const expected = recordHash({
      id: messageId,
      question,
      answer: answerText(chunks),
      passages: sources.map((s) => s.chunkId),
      datasetVersions: [{ dataset: datasetId, version: 2 }],
    });
    expect(receipt.recordHash).toBe(expected);
    // The same answer from another version, or without one, would be another record: the hash names the version.
    const passages = sources.map((s) => s.chunkId);
    expect(expected).not.toBe(recordHash({ id: messageId, question, answer: answerText(chunks), passages }));
    expect(expected).not.toBe(recordHash({ id: messageId, question, answer: answerText(chunks), passages, datasetVersions: [{ dataset: datasetId, version: 1 }] }));

    await expect.poll(async () => (await db.receipt.findUniqueOrThrow({ where: { id: receipt.id } })).status, { timeout: 60_000 }).toBe("settled");
    const settled = await db.receipt.findUniqueOrThrow({ where: { id: receipt.id } });
    // On chain: in an item of the settlement's input (its sender the sessions' operator) that no
    // SessionRejected of its receipt names.
    const [tx, mined] = await Promise.all([fx.client.getTransaction({ hash: settled.txHash as Hex }), fx.client.getTransactionReceipt({ hash: settled.txHash as Hex })]);
    expect(mined.status).toBe("success");
    const items = settlementOutcome(tx.input, tx.from, fx.settlement, mined.logs).filter((item) => item.rejected === null && item.session.payer === payer.address);
    expect(items.flatMap((item) => item.records ?? []).map((r) => r.recordHash)).toContain(expected);
  });

  it("removes a document as version 3: its passages are never retrieved again", async () => {
    const search = async (query: string) =>
      ((await (await send("POST", `/api/datasets/${datasetId}/search`, creatorCookie, { query, k: 10 })).json()) as { results: { filename: string }[] }).results;
    expect((await search("granite kerbstones barges")).map((r) => r.filename)).toContain("quarry.txt");

    const quarry = (await documentsOf()).find((d) => d.filename === "quarry.txt")!;
    const removed = await send("DELETE", `/api/datasets/${datasetId}/documents/${quarry.id}`, creatorCookie);
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ version: 3 });
    expect((await search("granite kerbstones barges")).map((r) => r.filename)).not.toContain("quarry.txt");
    expect(await db.chunk.count({ where: { documentId: quarry.id } })).toBe(0);

    // Nor through the app's chat (free of charge here: the answer's sources are what matters).
    const payer = await fx.account();
    await fx.deposit(payer, 100_000n);
    const cookie = await fx.signIn(payer);
    const auth = await fx.authorize(cookie, payer);
    const response = await fx.post("/api/chat", cookie, {
      conversationId: clientId(),
      appId,
      trigger: "submit-message",
      message: { id: clientId(), text: "Where was the granite from the quarry shipped?" },
      payment: await fx.payment(await fx.chargeSet(appId), auth),
    });
    const chunks = await readChunks(response);
    const sources = (chunks.find((c) => c.type === "data-sources")?.data as { sources: SourceRef[] } | undefined)?.sources ?? [];
    expect(sources.map((s) => s.documentName)).not.toContain("quarry.txt");
    expect(sources.every((s) => s.datasetVersion === 3)).toBe(true);

    const versions = await versionsOf();
    expect(versions.versions[0]).toMatchObject({ number: 3, status: "pending", documents: 2, removed: [{ name: "quarry.txt" }] });
    const signed = await signPendingVersion();
    expect(await chainContentHash()).toBe(signed.versions[0].metadataHash);
    expect(signed.versions[0].status).toBe("on chain");

    // The last document cannot go, and a removed document cannot be removed twice.
    expect((await send("DELETE", `/api/datasets/${datasetId}/documents/${quarry.id}`, creatorCookie)).status).toBe(404);
  });
});

describe("retrieval scorecards", () => {
  it("measures the owner's pairs through the platform's retrieval, shows the figures on the listing and measures each new version", async () => {
    // "moon" is twice in the short tides.txt and once in the longer harbour.txt: harbour.txt ranks second.
    const csv = "question,document\nWhich ships enter the breakwater?,harbour.txt\nWhen is the tidal range largest?,tides.txt\nmoon,harbour.txt\n";
    const posted = await send("POST", `/api/datasets/${datasetId}/scorecard`, creatorCookie, csv, "text/csv");
    expect(posted.status).toBe(201);
    // Two expected documents ranked first, one second.
    expect(((await posted.json()) as { figures: unknown }).figures).toEqual({ version: 3, questions: 3, recallAt1: 2 / 3, recallAt5: 1, mrr: (2 + 1 / 2) / 3 });

    // A pair naming a document the dataset does not hold is refused, by its number.
    const bad = await send("POST", `/api/datasets/${datasetId}/scorecard`, creatorCookie, { pairs: [{ question: "Granite?", document: "quarry.txt" }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/Question 1: "quarry.txt" is not a document/);

    // Everyone sees the figures; only the owner sees each question's result.
    const visitor = (await (await send("GET", `/api/datasets/${datasetId}/scorecard`, strangerCookie)).json()) as { scorecard: Record<string, unknown>; questions?: unknown };
    expect(visitor.scorecard).toMatchObject({ version: 3, questions: 3 });
    expect(visitor.scorecard.results).toBeUndefined();
    expect(visitor.questions).toBeUndefined();
    const owner = (await (await send("GET", `/api/datasets/${datasetId}/scorecard`, creatorCookie)).json()) as { scorecard: { results: { rank: number | null }[] } };
    expect(owner.scorecard.results.map((r) => r.rank)).toEqual([1, 1, 2]);

    const html = await (await fetch(`${stack.appUrl}/listings/${datasetId}`)).text();
    expect(html).toMatch(/data-testid="scorecard-recall-at-1">0\.67</);
    expect(html).toMatch(/data-testid="scorecard-recall-at-5">1\.00</);
    expect(html).toMatch(/data-testid="scorecard-mrr">0\.83</);
    expect(html).toMatch(/on (<!-- -->)?3(<!-- -->)? question/);

    // A new version is measured again, and the figures name it.
    const added = await send("POST", `/api/datasets/${datasetId}/documents`, creatorCookie, {
      uploads: [await upload(creatorCookie, "cargo.txt", "Cargo ledgers: timber, salt and cargo lists of the harbour master, cargo by cargo.")],
    });
    expect(added.status).toBe(202);
    await expect
      .poll(async () => ((await (await send("GET", `/api/datasets/${datasetId}/scorecard`, null)).json()) as { scorecard: { version: number } }).scorecard.version, { timeout: 30_000 })
      .toBe(4);
  });
});
