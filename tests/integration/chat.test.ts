// The chat route over real HTTP against the running app, with an OpenAI-compatible stand-in model on a
// local port: prompt and passages reach the model, the answer streams back, receipts are checked before
// the model runs (every rejection), failures and aborts void the charge, history is per wallet.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { MAX_HISTORY_TURNS, PLATFORM_RULES } from "../../lib/ai/prompt";
import { kipAssetsAbi, kipSettlementAbi } from "../../lib/chain/generated";
import { chargesHash, datasetVersionsOf, hashSession, recordHash, sessionDigest, signSession, type Session } from "../../lib/protocol";
import type { ChargeSet, SourceRef } from "../../lib/chat/types";
import { createDb, type Db } from "../../lib/db-client";
import { answerText, ChatFixtures, clientId, readChunks, type UiChunk } from "../helpers/chat-fixtures";
import { contentText, startStandIn, type StandIn } from "../helpers/openai-stand-in";

const stack = inject("stack");
const fx = new ChatFixtures(stack);
const SYSTEM_PROMPT = "You are the Seabird Tutor. Answer in one sentence and be kind.";
const PELICANS =
  "The brown pelican dives from the air to scoop fish into its throat pouch. Pelicans drain the water from the pouch before swallowing the catch. Colonies of pelicans nest on islands along the coast.";
// The first app's Seabirds dataset is a Markdown page: its passages are cited by title and section.
const SEABIRDS_PAGE = `# Seabirds of the coast\n\n## Pelicans\n\n${PELICANS}\n`;
const LIGHTHOUSES =
  "A lighthouse keeper trimmed the wicks and wound the clockwork that turned the lens. The Fresnel lens bent the lamp's beam into a narrow ray visible for miles at sea.";

let db: Db;
let standIn: StandIn;
let appId: string;
let charges: ChargeSet;
let payer: PrivateKeyAccount;
let cookie: string;
let auth: Awaited<ReturnType<ChatFixtures["authorize"]>>;
const conversationId = clientId();

type ErrorBody = { error: { code: string; message: string; reason?: string } };

function ask(text: string, payment: unknown, options: { conversation?: string; signal?: AbortSignal; trigger?: string; who?: string } = {}) {
  return fx.post(
    "/api/chat",
    options.who ?? cookie,
    {
      conversationId: options.conversation ?? conversationId,
      appId,
      trigger: options.trigger ?? "submit-message",
      message: options.trigger === "regenerate-message" ? undefined : { id: clientId(), text },
      payment,
    },
    options.signal,
  );
}

async function expectRejected(response: Response, status: number, reason: string) {
  const body = (await response.json()) as ErrorBody;
  expect({ status: response.status, reason: body.error.reason }).toEqual({ status, reason });
  expect(body.error.message.length).toBeGreaterThan(10);
}

const receiptCount = () => db.receipt.count({ where: { payer: payer.address } });
/** The newest query of the test's main session. */
/** secp256k1's group order. */
const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** The same signature with v as 0 or 1 instead of 27 or 28. */
const lowV = (signature: Hex): Hex => `${signature.slice(0, 130)}${(Number.parseInt(signature.slice(130), 16) - 27).toString(16).padStart(2, "0")}` as Hex;
/** The same signature's twin with s in the upper half of the curve order (and v flipped). */
function highS(signature: Hex): Hex {
  const s = CURVE_ORDER - BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16) === 27 ? 28 : 27;
  return `${signature.slice(0, 66)}${s.toString(16).padStart(64, "0")}${v.toString(16)}` as Hex;
}

const newestReceipt = () => db.receipt.findFirstOrThrow({ where: { sessionHash: auth.hash }, orderBy: { createdAt: "desc" } });
const newestWhere = async () => ({ id: (await newestReceipt()).id });
/** A query record's amounts in the charge set's order ("0" for a slot it did not charge). */
function amountsIn(receipt: { amountsJson: string | null }, set: ChargeSet): string[] {
  const pairs = JSON.parse(receipt.amountsJson!) as [string, string][];
  return set.slots.map((s) => pairs.find(([slot]) => slot === s.slot)?.[1] ?? "0");
}

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  standIn = await startStandIn({ reply: () => "Pelicans scoop fish into the pouch and drain the water first [1]." });
  const created = await fx.createApp(db, {
    systemPrompt: SYSTEM_PROMPT,
    prices: { app: 4000n, model: 3000n, datasets: [2000n, 1000n] },
    datasets: [
      { name: "Seabirds", text: SEABIRDS_PAGE, filename: "seabirds.md" },
      { name: "Lighthouses", text: LIGHTHOUSES },
    ],
    baseUrl: standIn.url,
    apiKey: "sk-stand-in-secret",
  });
  appId = created.app.id;
  charges = await fx.chargeSet(appId);
  payer = await fx.account();
  await fx.deposit(payer, 100_000n);
  cookie = await fx.signIn(payer);
  auth = await fx.authorize(cookie, payer);
});

afterAll(async () => {
  await standIn?.stop();
  await db?.$disconnect();
});

describe("answering through an OpenAI-compatible model", () => {
  it("sends the app's prompt and the retrieved passages to the model and streams the answer back", async () => {
    expect(charges.slots.map((s) => [s.role, s.price])).toEqual([
      ["app", "4000"],
      ["model", "3000"],
      ["dataset", "2000"],
      ["dataset", "1000"],
    ]);
    const before = standIn.requests.length;
    const response = await ask("How do pelicans catch fish with the pouch?", await fx.payment(charges, auth));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const chunks = await readChunks(response);

    // What the model received.
    const request = standIn.requests[before];
    expect(request.headers.authorization).toBe("Bearer sk-stand-in-secret");
    expect(request.body.stream).toBe(true);
    const system = contentText(request.body.messages!.find((m) => m.role === "system")?.content);
    expect(system).toContain(PLATFORM_RULES.split("\n")[0]);
    expect(system).toContain(SYSTEM_PROMPT);
    const user = contentText(request.body.messages!.at(-1)!.content);
    // The model is told where each passage comes from: the page's title and section, not only the file.
    expect(user).toContain('<source n="1" dataset="Seabirds" document="Seabirds of the coast › Pelicans">');
    expect(user).toContain("scoop fish into its throat pouch");
    expect(user).toMatch(/Question: How do pelicans catch fish with the pouch\?$/);
    expect(system).not.toContain("throat pouch"); // passages never enter the instructions

    // What came back.
    expect(answerText(chunks)).toBe("Pelicans scoop fish into the pouch and drain the water first [1].");
    const sources = (chunks.find((c) => c.type === "data-sources")!.data as { sources: SourceRef[] }).sources;
    expect(sources[0]).toMatchObject({
      n: 1,
      datasetName: "Seabirds",
      documentName: "seabirds.md",
      documentTitle: "Seabirds of the coast",
      section: ["Seabirds of the coast", "Pelicans"],
      page: null,
      citation: "Seabirds of the coast › Pelicans",
    });
    expect(sources[0].score).toBeGreaterThan(0);
    expect(sources.every((s) => s.datasetName === "Seabirds")).toBe(true);
    const finalMeta = chunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: { status: string; total: string } };
    expect(finalMeta.charge).toMatchObject({ status: "pending", total: "9000" }); // app + model + Seabirds; Lighthouses unused
    expect(chunks.at(-1)!.type).toBe("finish");

    const receipt = await newestReceipt();
    // Answered, so it is charged: waiting for the stack's settlement worker, or already picked up by it.
    expect(["pending", "sending", "settled"]).toContain(receipt.status);
    expect(amountsIn(receipt, charges)).toEqual(["4000", "3000", "2000", "0"]);
    // The query's record: the app, the model and the one dataset in context, with the hash of what was shown.
    expect(JSON.parse(receipt.amountsJson!)).toEqual(charges.slots.slice(0, 3).map((s) => [s.slot, s.price]));
    expect(receipt.recordHash).toBe(
      recordHash({
        id: chunks.find((c) => c.type === "start")!.messageId as string,
        question: "How do pelicans catch fish with the pouch?",
        answer: answerText(chunks),
        passages: sources.map((s) => s.chunkId),
        datasetVersions: datasetVersionsOf(sources),
      }),
    );
    // It names the version of the dataset its passages came from.
    expect(datasetVersionsOf(sources)).toEqual([{ dataset: charges.slots[2].listingId, version: 1 }]);
    expect(JSON.parse(receipt.datasetVersionsJson!)).toEqual([[charges.slots[2].listingId, 1]]);
    const messages = await db.chatMessage.findMany({ where: { conversationId }, orderBy: { createdAt: "asc" } });
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(messages[1].receiptId).toBe(receipt.id);

    // The receipt keeps this query's own maxima, their hash and the account's running maximum.
    expect(JSON.parse(receipt.slotsJson)).toEqual(charges.slots.map((s) => s.slot));
    expect(JSON.parse(receipt.maxAmountsJson)).toEqual(charges.slots.map((s) => s.price));
    expect(receipt.charges).toBe(chargesHash(charges.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) }))));
    expect(receipt.cumulativeMax).toBe(charges.maxTotal);
    const account = (await (await fx.get(`/api/chat/account?session=${auth.hash}`, cookie)).json()) as {
      pending: string;
      committed: string;
      position: { seq: string; cumulativeMax: string };
    };
    expect(account.pending).toBe("9000");
    expect(account.committed).toBe("9000");
    expect(account.position).toEqual({ seq: "1", cumulativeMax: charges.maxTotal });
  });

  it("sends the conversation's earlier turns to the model with a paid follow-up question", async () => {
    const conversation = clientId();
    const first = await ask("How do pelicans catch fish with the pouch?", await fx.payment(charges, auth), { conversation });
    const firstAnswer = answerText(await readChunks(first));
    const before = standIn.requests.length;
    const response = await ask("And what do they do with the water?", await fx.payment(charges, auth), { conversation });
    expect(response.status).toBe(200);
    await readChunks(response);
    const sent = standIn.requests.slice(before).find((r) => r.path === "/v1/chat/completions")!;
    const turns = sent.body.messages!.filter((m) => m.role !== "system").map((m) => [m.role, contentText(m.content)]);
    expect(turns.slice(0, 2)).toEqual([
      ["user", "How do pelicans catch fish with the pouch?"],
      ["assistant", firstAnswer],
    ]);
    expect(turns).toHaveLength(3);
    expect(turns[2][1]).toMatch(/Question: And what do they do with the water\?$/);
  });

  it("sends the newest turns of a long conversation, in order, however long it grows, on a paid app and on a free one", async () => {
    // A wallet of its own: these messages do not spend the shared payer's balance.
    const owner = await fx.account();
    await fx.deposit(owner, 10n * BigInt(charges.maxTotal));
    const own = await fx.signIn(owner);
    const device = await fx.authorize(own, owner, { spendCap: 10n ** 12n });
    const free = await fx.createApp(db, { systemPrompt: SYSTEM_PROMPT, prices: { app: 0n, model: 0n, datasets: [0n] }, datasets: [{ name: "Seabirds", text: PELICANS }], baseUrl: standIn.url });
    for (const paid of [true, false]) {
      const conversation = clientId();
      const send = async (text: string) =>
        fx.post("/api/chat", own, {
          conversationId: conversation,
          appId: paid ? appId : free.app.id,
          trigger: "submit-message",
          message: { id: clientId(), text },
          payment: paid ? await fx.payment(charges, device) : undefined,
        });
      const questions = Array.from({ length: 5 }, (_, i) => `Question ${i + 1}: how do pelicans use the pouch?`);
      const answers: string[] = [];
      for (const question of questions) answers.push(answerText(await readChunks(await send(question))));
      const before = standIn.requests.length;
      const response = await send("And the water?");
      expect(response.status).toBe(200);
      await readChunks(response);
      const sent = standIn.requests.slice(before).find((r) => r.path === "/v1/chat/completions")!;
      const turns = sent.body.messages!.filter((m) => m.role !== "system").map((m) => [m.role, contentText(m.content)]);
      // Ten earlier messages: the model gets the newest MAX_HISTORY_TURNS of them, oldest first, then the question.
      const earlier = questions.flatMap((q, i) => [
        ["user", q],
        ["assistant", answers[i]],
      ]);
      expect(turns.slice(0, -1)).toEqual(earlier.slice(-MAX_HISTORY_TURNS));
      expect(turns.at(-1)![1]).toMatch(/Question: And the water\?$/);
    }
  });

  it("fuses BM25 with the model's embeddings when the listing names an embeddings model", async () => {
    const hybrid = await fx.createApp(db, {
      systemPrompt: SYSTEM_PROMPT,
      prices: { app: 0n, model: 0n, datasets: [0n] },
      datasets: [{ name: "Seabirds", text: PELICANS }],
      baseUrl: standIn.url,
      embeddingsModel: "stand-in-embed",
    });
    const before = standIn.requests.length;
    const response = await fx.post("/api/chat", cookie, {
      conversationId: clientId(),
      appId: hybrid.app.id,
      trigger: "submit-message",
      message: { id: clientId(), text: "pelican pouch" },
    });
    const chunks = await readChunks(response);
    expect(standIn.requests.slice(before).map((r) => r.path)).toEqual(["/v1/embeddings", "/v1/chat/completions"]);
    expect(chunks.some((c) => c.type === "message-metadata" && (c.messageMetadata as { retrieval?: string }).retrieval === "hybrid")).toBe(true);
    // A free app needs no receipt.
    expect((chunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: { status: string } }).charge.status).toBe("free");
  });
});

describe("receipt checks before the model is called", () => {
  it("rejects each bad receipt with its reason, stores nothing and never calls the model", async () => {
    const other = privateKeyToAccount(generatePrivateKey());
    const requestsBefore = standIn.requests.length;
    const receiptsBefore = await receiptCount();
    const now = BigInt(Math.floor(Date.now() / 1000));

    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { signer: other })), 403, "bad_signature");
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { issuedAt: now - 600n })), 400, "expired");
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { issuedAt: now + 600n })), 400, "expired");
    // Dated past the contract's revocation delay from now: a revocation sent now would void it on chain.
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { issuedAt: now + 90n })), 400, "expired");
    // The session key's own valid signature in the forms viem recovers but the contract refuses (v 0/1, or
    // s in the upper half): admitted, they would be answered and then rejected at settlement, for free.
    for (const variant of [lowV, highS]) {
      const valid = await fx.payment(charges, auth);
      await expectRejected(await ask("pelicans?", { ...valid, signature: variant(valid.signature) }), 403, "bad_signature");
    }
    // A second voucher with a sequence number already used (the first answer's), and one that skips ahead.
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { previous: null })), 409, "nonce_used");
    const latest = await fx.position(auth);
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { seq: latest.seq + 2n })), 409, "charges_changed");
    await expectRejected(
      await ask("pelicans?", { ...(await fx.payment(charges, auth)), sessionHash: `0x${"ab".repeat(32)}` as Hex }),
      403,
      "session_unknown",
    );
    // A running maximum that does not grow by exactly the app's charge set (1 unit short), and a hash of
    // other per-slot maxima with the right total (a dataset's share moved to the model).
    const next = await fx.payment(charges, auth);
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { cumulativeMax: BigInt(next.voucher.cumulativeMax) - 1n })), 409, "charges_changed");
    const moved = charges.slots.map((s, i) => ({ slot: BigInt(s.slot), max: i === 1 ? BigInt(s.price) + 1n : i === charges.slots.length - 1 ? BigInt(s.price) - 1n : BigInt(s.price) }));
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth, { charges: chargesHash(moved) })), 409, "charges_changed");
    await expectRejected(await ask("pelicans?", undefined), 402, "session_required");
    // Another signed-in wallet replaying this payer's session and a voucher its key signed: refused, as the
    // session is not theirs (nothing stored, nothing charged to either).
    const thief = await fx.signIn(await fx.account());
    await expectRejected(await ask("pelicans?", await fx.payment(charges, auth), { who: thief }), 403, "wrong_payer");
    // Fields wider than the contract accepts are refused at the door, never stored.
    for (const [field, value, width] of [
      ["seq", (1n << 40n).toString(), "40"],
      ["issuedAt", (1n << 40n).toString(), "40"],
      ["cumulativeMax", (1n << 96n).toString(), "96"],
    ] as const) {
      const payment = await fx.payment(charges, auth);
      const wide = await ask("pelicans?", { ...payment, voucher: { ...payment.voucher, [field]: value } });
      expect(wide.status).toBe(400);
      expect(((await wide.json()) as ErrorBody).error.message).toMatch(new RegExp(`payment.voucher.${field}: .*at most 2\\^${width} - 1`));
    }
    const longSession = await fx.post("/api/chat/sessions", cookie, {
      payer: payer.address,
      key: payer.address,
      operator: fx.operator,
      spendCap: "1000",
      expiry: String(Math.floor(Date.now() / 1000) + 600),
      nonce: "1",
      signature: `0x${"ab".repeat(1025)}`,
    });
    expect(longSession.status).toBe(400);
    expect(((await longSession.json()) as ErrorBody).error.message).toMatch(/signature: must be 1 to 1024 bytes/);
    // A session naming another operator is refused: this server could never settle it.
    await expect(fx.authorize(cookie, payer, { operator: other.address })).rejects.toThrow(/403.*wrong_operator/);

    const capped = await fx.authorize(cookie, payer, { spendCap: 9_999n });
    await expectRejected(await ask("pelicans?", await fx.payment(charges, capped)), 402, "over_cap");

    expect(await receiptCount()).toBe(receiptsBefore);
    expect(standIn.requests.length).toBe(requestsBefore);
  });

  it("admits one of two tabs racing with the same voucher number, and holds the balance once", async () => {
    const racer = await fx.authorize(cookie, payer, { spendCap: 10n ** 12n });
    // Both tabs build on the same position of the account and send at once.
    const before = await fx.position(racer);
    const tabs = await Promise.all([fx.payment(charges, racer, { previous: before }), fx.payment(charges, racer, { previous: before })]);
    const raced = await Promise.all(tabs.map((payment) => ask("pelican pouch", payment, { conversation: clientId() })));
    expect(raced.map((r) => r.status).sort()).toEqual([200, 409]);
    await readChunks(raced.find((r) => r.status === 200)!);
    await expectRejected(raced.find((r) => r.status === 409)!, 409, "nonce_used");
    const rows = await db.receipt.findMany({ where: { sessionHash: racer.hash } });
    expect(rows.map((r) => r.seq)).toEqual([String(before.seq + 1n)]);
  });

  it("admits each number once when eight tabs race it, round after round, and never past the balance", async () => {
    // A wallet of its own with a balance for exactly three messages, and three sessions (devices) sharing its account.
    const owner = await fx.account();
    const maxTotal = BigInt(charges.maxTotal);
    await fx.deposit(owner, 3n * maxTotal);
    const own = await fx.signIn(owner);
    const devices = await Promise.all([0, 1, 2].map(() => fx.authorize(own, owner, { spendCap: 10n ** 12n })));
    const outcomes: string[][] = [];
    for (let round = 0; round < 4; round++) {
      // Every tab builds on the same position and sends at once: the same number eight times.
      const position = await fx.position(devices[0]);
      const payments = await Promise.all(Array.from({ length: 8 }, (_, i) => fx.payment(charges, devices[i % 3], { previous: position })));
      const responses = await Promise.all(payments.map((payment) => ask("pelican pouch", payment, { conversation: clientId(), who: own })));
      const reasons: string[] = [];
      for (const response of responses) {
        if (response.status === 200) {
          await readChunks(response);
          reasons.push("answered");
        } else reasons.push(((await response.json()) as ErrorBody).error.reason ?? String(response.status));
      }
      outcomes.push(reasons.sort());
    }
    const once = ["answered", ...Array(7).fill("nonce_used")].sort();
    expect(outcomes).toEqual([once, once, once, Array(8).fill("balance_too_low")]);
    const rows = await db.receipt.findMany({ where: { payer: owner.address, status: { notIn: ["void", "failed"] } }, orderBy: { seq: "asc" } });
    expect(rows.map((r) => r.seq)).toEqual(["1", "2", "3"]);
    // What the receipts hold never passes what was deposited.
    expect(rows.reduce((sum, r) => sum + BigInt(r.total ?? r.maxTotal), 0n)).toBeLessThanOrEqual(3n * maxTotal);
    // A tab that lost the race leaves no conversation behind: one per answered question.
    const conversations = await db.conversation.findMany({ where: { owner: owner.address }, include: { _count: { select: { messages: true } } } });
    expect(conversations.map((c) => c._count.messages)).toEqual([2, 2, 2]);
  });

  it("counts one wallet's questions on one account over all its sessions: a second device takes the next number, and a session's cap holds the account's total", async () => {
    // A wallet of its own: this test's messages do not spend the shared payer's balance.
    const owner = await fx.account();
    await fx.deposit(owner, 100_000n);
    const own = await fx.signIn(owner);
    const send = (payment: unknown) => ask("pelican pouch", payment, { conversation: clientId(), who: own });
    const phone = await fx.authorize(own, owner, { spendCap: 10n ** 12n });
    const laptop = await fx.authorize(own, owner, { spendCap: 10n ** 12n });
    const start = await fx.position(phone);
    expect(start).toEqual({ seq: 0n, cumulativeMax: 0n });
    const first = await send(await fx.payment(charges, phone));
    expect(first.status).toBe(200);
    await readChunks(first);
    // The laptop's key signs the number after the phone's; a voucher of its own reusing the phone's is refused.
    await expectRejected(await send(await fx.payment(charges, laptop, { previous: start })), 409, "nonce_used");
    const second = await send(await fx.payment(charges, laptop));
    expect(second.status).toBe(200);
    await readChunks(second);
    const rows = await db.receipt.findMany({ where: { sessionHash: { in: [phone.hash, laptop.hash] } }, orderBy: { createdAt: "asc" } });
    expect(rows.map((r) => [r.sessionHash, r.seq])).toEqual([
      [phone.hash, String(start.seq + 1n)],
      [laptop.hash, String(start.seq + 2n)],
    ]);
    expect(rows.map((r) => r.cumulativeMax)).toEqual([String(start.cumulativeMax + BigInt(charges.maxTotal)), String(start.cumulativeMax + 2n * BigInt(charges.maxTotal))]);
    // A session signed for the account's total so far plus one message: the other device's next message
    // uses that room, and then this session has none left (the contract would refuse its voucher).
    const committed = async () => BigInt(((await (await fx.get("/api/chat/account", own)).json()) as { committed: string }).committed);
    const tight = await fx.authorize(own, owner, { spendCap: (await committed()) + BigInt(charges.maxTotal) });
    const used = await send(await fx.payment(charges, phone));
    expect(used.status).toBe(200);
    await readChunks(used);
    await expectRejected(await send(await fx.payment(charges, tight)), 402, "over_cap");
  });

  it("reads the account of the signed-in wallet by its checksummed address, however the sign-in's row spells it", async () => {
    // The sign-in statement reads the admission's account for the address on the sign-in's row. Were that
    // row spelled in lower case, a reading by it would find none of the account's receipts (they name the
    // payer checksummed): the account's next voucher would be refused and the account's spent history missed.
    const owner = await fx.account();
    await fx.deposit(owner, 100_000n);
    const own = await fx.signIn(owner);
    const device = await fx.authorize(own, owner, { spendCap: 10n ** 12n });
    const send = (payment: unknown) => ask("pelican pouch", payment, { conversation: clientId(), who: own });
    const first = await send(await fx.payment(charges, device, { previous: null }));
    expect(first.status).toBe(200);
    await readChunks(first);
    const position = await fx.position(device);
    expect(position.seq).toBe(1n);
    expect((await db.authSession.updateMany({ where: { address: owner.address }, data: { address: owner.address.toLowerCase() } })).count).toBeGreaterThan(0);
    // The number already used is still refused as used, and the next one is admitted.
    await expectRejected(await send(await fx.payment(charges, device, { previous: null })), 409, "nonce_used");
    const next = await send(await fx.payment(charges, device, { previous: position }));
    expect(next.status).toBe(200);
    await readChunks(next);
    const rows = await db.receipt.findMany({ where: { sessionHash: device.hash }, orderBy: { createdAt: "asc" } });
    expect(rows.map((r) => [r.payer, r.seq])).toEqual([
      [owner.address, "1"],
      [owner.address, "2"],
    ]);
  });

  it("refuses every voucher of a session its payer revoked, at once", async () => {
    const revocable = await fx.authorize(cookie, payer);
    const conversation = clientId();
    const answered = await ask("pelican pouch", await fx.payment(charges, revocable), { conversation });
    expect(answered.status).toBe(200);
    await readChunks(answered);
    const revoked = await fx.post("/api/chat/sessions/revoke", cookie, { hash: revocable.hash });
    expect(revoked.status).toBe(200);
    const before = standIn.requests.length;
    await expectRejected(await ask("pelican pouch", await fx.payment(charges, revocable), { conversation }), 403, "session_revoked");
    expect(standIn.requests.length).toBe(before);
    // Nobody else can revoke (or learn about) this wallet's session.
    const stranger = await fx.signIn(await fx.account());
    expect((await fx.post("/api/chat/sessions/revoke", stranger, { hash: auth.hash })).status).toBe(404);
    // The answer admitted before the revocation still stands to be settled.
    const [row] = await db.receipt.findMany({ where: { sessionHash: revocable.hash } });
    expect(["pending", "sending", "settled"]).toContain(row.status);
  });

  it("refuses the next voucher of a session its payer revoked on chain, whether or not this server has seen the revocation", async () => {
    const revocable = await fx.authorize(cookie, payer);
    const conversation = clientId();
    const answered = await ask("pelican pouch", await fx.payment(charges, revocable), { conversation });
    expect(answered.status).toBe(200);
    await readChunks(answered);
    // Straight from the payer's wallet to the contract, not through this server.
    const hash = await fx.wallet(payer).writeContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "revokeSession", args: [revocable.session] });
    expect((await fx.client.waitForTransactionReceipt({ hash })).status).toBe("success");
    const before = standIn.requests.length;
    await expectRejected(await ask("pelican pouch", await fx.payment(charges, revocable), { conversation }), 403, "session_revoked");
    expect(standIn.requests.length).toBe(before);
  });

  it("stops answering for an app one of whose creators priced a slot on chain past what a query's record can carry", async () => {
    const priced = await fx.createApp(db, { systemPrompt: SYSTEM_PROMPT, prices: { app: 1000n, model: 500n, datasets: [700n] }, datasets: [{ name: "Seabirds", text: PELICANS }] });
    // KipAssets takes prices up to 80 bits; a record's amount is 64.
    const hash = await fx.wallet(priced.creator).writeContract({ address: stack.deployment.assets as Address, abi: kipAssetsAbi, functionName: "setPrice", args: [priced.datasets[0].slot, 1n << 64n] });
    expect((await fx.client.waitForTransactionReceipt({ hash })).status).toBe("success");
    const response = await fetch(`${stack.appUrl}/api/chat/apps/${priced.app.id}`);
    await expectRejected(response, 409, "app_unavailable");
  });

  it("takes one question at a time on a smart wallet's session until its first settlement proves the wallet's approval", async () => {
    // A contract wallet that approves what its owner key signed (ERC-1271), signed in and paying as itself.
    const owner = privateKeyToAccount(generatePrivateKey());
    const wallet = await fx.smartWallet("SignerWallet", 100_000n, fx.operator, [owner.address]);
    const walletCookie = await fx.signIn({ address: wallet, signMessage: (args) => owner.signMessage(args) });
    const key = privateKeyToAccount(generatePrivateKey());
    const session: Session = { payer: wallet, key: key.address, operator: fx.operator, spendCap: 100_000n, expiry: BigInt(Math.floor(Date.now() / 1000) + 3600), nonce: 1n };
    const signature = await owner.sign({ hash: sessionDigest({ chainId: stack.chainId, settlement: fx.settlement }, session) });
    const registered = await fx.post("/api/chat/sessions", walletCookie, { ...session, spendCap: "100000", expiry: session.expiry.toString(), nonce: "1", signature });
    expect(registered.ok).toBe(true);
    const walletAuth = { key, session, hash: hashSession(session), cookie: walletCookie };
    standIn.options.firstTokenDelayMs = 1_500;
    try {
      // The first answer is still being written: the session has not been proven on chain yet.
      const first = await ask("pelican pouch", await fx.payment(charges, walletAuth), { conversation: clientId(), who: walletCookie });
      expect(first.status).toBe(200);
      const second = await ask("pelican pouch", await fx.payment(charges, walletAuth), { conversation: clientId(), who: walletCookie });
      await expectRejected(second, 409, "session_confirming");
      await readChunks(first);
    } finally {
      standIn.options.firstTokenDelayMs = 0;
    }
    // Once the first settles, the wallet's approval is proven and questions flow.
    await expect.poll(async () => (await db.receipt.findFirstOrThrow({ where: { sessionHash: walletAuth.hash } })).status, { timeout: 20_000 }).toBe("settled");
    const third = await ask("pelican pouch", await fx.payment(charges, walletAuth), { conversation: clientId(), who: walletCookie });
    expect(third.status).toBe(200);
    await readChunks(third);
  });

  it("registers a session only with a signature the contract accepts: not its v 0/1 or high-s twins", async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const session: Session = {
      payer: payer.address,
      key: key.address,
      operator: fx.operator,
      spendCap: 100_000n,
      expiry: BigInt(Math.floor(Date.now() / 1000) + 3600),
      nonce: BigInt(Date.now()),
    };
    const signature = await signSession(payer, { chainId: stack.chainId, settlement: fx.settlement }, session);
    const register = (sig: Hex) =>
      fx.post("/api/chat/sessions", cookie, { ...session, spendCap: session.spendCap.toString(), expiry: session.expiry.toString(), nonce: session.nonce.toString(), signature: sig });
    for (const variant of [lowV, highS]) await expectRejected(await register(variant(signature)), 403, "bad_signature");
    expect(await db.paymentSession.count({ where: { key: key.address } })).toBe(0);
    expect((await register(signature)).ok).toBe(true);
  });

  it("asks a wallet without a deposit to deposit first, not for a spending session it could not use", async () => {
    const newcomer = await fx.account();
    const newcomerCookie = await fx.signIn(newcomer);
    const before = standIn.requests.length;
    await expectRejected(await ask("pelican pouch", undefined, { who: newcomerCookie }), 402, "balance_too_low");
    // Less than one message's maximum is still "deposit first"; enough for one, and the session is next.
    await fx.deposit(newcomer, 9_999n);
    await expectRejected(await ask("pelican pouch", undefined, { who: newcomerCookie }), 402, "balance_too_low");
    await fx.deposit(newcomer, 1n);
    await expectRejected(await ask("pelican pouch", undefined, { who: newcomerCookie }), 402, "session_required");
    expect(standIn.requests.length).toBe(before);
    expect(await db.receipt.count({ where: { payer: newcomer.address } })).toBe(0);
    expect(await db.chatMessage.count({ where: { conversation: { owner: newcomer.address } } })).toBe(0);
  });

  it("counts pending receipts against the balance on chain", async () => {
    const poor = await fx.account();
    await fx.deposit(poor, 15_000n);
    const poorCookie = await fx.signIn(poor);
    const poorAuth = await fx.authorize(poorCookie, poor);
    const conversation = clientId();
    const first = await ask("pelican pouch", await fx.payment(charges, poorAuth), { who: poorCookie, conversation });
    expect(first.status).toBe(200);
    await readChunks(first);
    // 15,000 on chain, 9,000 pending: 6,000 left, less than the 10,000 a message may cost.
    await expectRejected(await ask("pelican pouch", await fx.payment(charges, poorAuth), { who: poorCookie, conversation }), 402, "balance_too_low");
    expect(await fx.balanceOf(poor.address)).toBe(15_000n);
  });

  it("cannot be answered and then withdraw first: a withdrawal request is unavailable at once, and what was answered settles within the delay", async () => {
    const leaver = await fx.account();
    await fx.deposit(leaver, 30_000n);
    const leaverCookie = await fx.signIn(leaver);
    const leaverAuth = await fx.authorize(leaverCookie, leaver);
    const conversation = clientId();
    const answered = await ask("pelican pouch", await fx.payment(charges, leaverAuth), { who: leaverCookie, conversation });
    expect(answered.status).toBe(200);
    await readChunks(answered);
    // The payer asks to withdraw 25,000 of 30,000 while 9,000 is still pending.
    const wallet = fx.wallet(leaver);
    await fx.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "requestWithdraw", args: [fx.operator, 25_000n] }),
    });
    await expectRejected(await ask("pelican pouch", await fx.payment(charges, leaverAuth), { who: leaverCookie, conversation }), 402, "balance_too_low");
    // The operator settles the answered query long before the request matures (1 hour here).
    await expect.poll(async () => (await db.receipt.findMany({ where: { sessionHash: leaverAuth.hash } })).map((r) => r.status), { timeout: 30_000 }).toEqual(["settled"]);
    const [request, balance] = await Promise.all([
      fx.client.readContract({ address: fx.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [leaver.address, fx.operator] }),
      fx.balanceOf(leaver.address),
    ]);
    expect(balance).toBe(21_000n);
    expect(request.amount).toBe(25_000n);
    expect(Number(request.readyAt)).toBeGreaterThan(Math.floor(Date.now() / 1000) + 3000);
  });

  it("refuses chats from a visitor who has not signed in", async () => {
    await expectRejected(await ask("pelicans?", undefined, { who: "" }), 401, "sign_in");
  });
});

describe("failures cost nothing, a stop costs what was delivered", () => {
  it("voids the receipt and keeps the question when the model is down", async () => {
    standIn.options.mode = "fail";
    try {
      const response = await ask("Why do pelicans drain their pouch?", await fx.payment(charges, auth));
      const chunks = await readChunks(response);
      expect(chunks.find((c) => c.type === "error")?.errorText).toMatch(/could not answer.*not charged/i);
      const receipt = await newestReceipt();
      expect(receipt.status).toBe("void");
      const last = await db.chatMessage.findFirstOrThrow({ where: { conversationId }, orderBy: { createdAt: "desc" } });
      expect(last).toMatchObject({ role: "user", text: "Why do pelicans drain their pouch?" });
    } finally {
      standIn.options.mode = "ok";
    }
  });

  it("charges a stopped answer for what was delivered: the app and the datasets in context in full, the model for the tokens streamed", async () => {
    standIn.options.tokenDelayMs = 100;
    standIn.options.reply = () => Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
    try {
      const controller = new AbortController();
      const response = await ask("Tell me everything about pelicans", await fx.payment(charges, auth), { signal: controller.signal });
      const seen: UiChunk[] = [];
      await readChunks(response, (chunk) => {
        seen.push(chunk);
        if (seen.filter((c) => c.type === "text-delta").length === 3) {
          controller.abort();
          return false;
        }
      }).catch(() => undefined);
      const where = await newestWhere();
      await expect.poll(async () => (await db.receipt.findFirstOrThrow({ where })).status, { timeout: 15_000 }).not.toBe("answering");
      const receipt = await db.receipt.findFirstOrThrow({ where });
      expect(["pending", "sending", "settled"]).toContain(receipt.status);
      // The model is priced per query: its price in full once a token was delivered; Seabirds was in
      // the context, Lighthouses was not.
      expect(amountsIn(receipt, charges)).toEqual(["4000", "3000", "2000", "0"]);
      expect(receipt.total).toBe("9000");
      expect(receipt.outputTokens).toBeGreaterThanOrEqual(3);
      expect(receipt.outputTokens).toBeLessThan(60);
      expect(receipt.chargeNote).toMatch(/^Stopped: the app and 1 of 2 datasets in context in full, the model for the [\d,]+ input and \d+ output tokens streamed before the stop\.$/);
      // The model call was cancelled too (the stand-in sees its connection close shortly after).
      await expect.poll(() => standIn.requests.at(-1)!.closedEarly, { timeout: 5_000 }).toBe(true);
      const stopped = await db.chatMessage.findFirstOrThrow({ where: { conversationId, role: "assistant" }, orderBy: { createdAt: "desc" } });
      expect(stopped).toMatchObject({ status: "stopped", receiptId: receipt.id });
      expect(stopped.text).toMatch(/^word0 word1/);
    } finally {
      standIn.options.tokenDelayMs = 0;
      standIn.options.reply = () => "Pelicans scoop fish into the pouch and drain the water first [1].";
    }
  });

  it("costs nothing when stopped before the first token", async () => {
    standIn.options.firstTokenDelayMs = 3_000;
    try {
      const controller = new AbortController();
      const before = standIn.requests.length;
      const response = await ask("Tell me about pelicans", await fx.payment(charges, auth), { signal: controller.signal });
      const received: UiChunk[] = [];
      const reading = readChunks(response, (chunk) => void received.push(chunk)).catch(() => undefined);
      // The model has the prompt with the passages and its first word is 3 s away: the answer has started
      // on the page, but the paid passages have not been sent, as they go out with the first word.
      await expect.poll(() => standIn.requests.length > before && received.some((c) => c.type === "start"), { timeout: 10_000 }).toBe(true);
      controller.abort();
      await reading;
      expect(received.some((c) => c.type === "data-sources")).toBe(false);
      const where = await newestWhere();
      await expect.poll(async () => (await db.receipt.findFirstOrThrow({ where })).status, { timeout: 15_000 }).toBe("void");
      expect((await db.receipt.findFirstOrThrow({ where })).failureReason).toBe("stopped before the first word of the answer");
    } finally {
      standIn.options.firstTokenDelayMs = 0;
    }
  });
});

describe("metered pricing", () => {
  /** An app whose model is priced 500 per query, 1,000 per 1,000 input and 5,000 per 1,000 output tokens. */
  async function meteredApp() {
    const metered = await fx.createApp(db, {
      systemPrompt: SYSTEM_PROMPT,
      prices: { app: 1000n, model: 500n, datasets: [700n] },
      datasets: [{ name: "Seabirds", text: PELICANS }],
      baseUrl: standIn.url,
      tokenPrices: { perKInput: 1000n, perKOutput: 5000n },
    });
    const set = await fx.chargeSet(metered.app.id);
    const send = async (text: string) =>
      fx.post("/api/chat", cookie, { conversationId: clientId(), appId: metered.app.id, trigger: "submit-message", message: { id: clientId(), text }, payment: await fx.payment(set, auth) });
    return { set, send };
  }

  it("charges a token-priced model for the tokens the provider reports, within the maximum the payer signed", async () => {
    const { set, send } = await meteredApp();
    // The maximum: 500 per query + 16,000 input tokens at 1,000 per 1,000 + 1,024 output tokens at 5,000 per 1,000.
    expect(set.slots.map((s) => [s.role, s.price])).toEqual([
      ["app", "1000"],
      ["model", String(500 + 16_000 + 5_120)],
      ["dataset", "700"],
    ]);
    expect(set.slots[1].pricing).toEqual({ perQuery: "500", perKInput: "1000", perKOutput: "5000" });
    standIn.options.usage = () => ({ prompt_tokens: 234, completion_tokens: 56 });
    try {
      const chunks = await readChunks(await send("How do pelicans catch fish?"));
      const meta = chunks.filter((c) => c.type === "message-metadata").at(-1)!.messageMetadata as { charge: { total: string; note: string } };
      // 500 + 234 × 1,000 / 1,000 + 56 × 5,000 / 1,000 = 1,014 for the model.
      expect(meta.charge.total).toBe(String(1000 + 1014 + 700));
      expect(meta.charge.note).toBe("The app, 1 of 1 dataset in context, and the model for 234 input and 56 output tokens.");
      const receipt = await newestReceipt();
      expect(amountsIn(receipt, set)).toEqual(["1000", "1014", "700"]);
      expect(receipt).toMatchObject({ inputTokens: 234, outputTokens: 56 });
      // The model was told the output budget it is paid within.
      expect((standIn.requests.at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(1024);
    } finally {
      standIn.options.usage = undefined;
    }
  });

  it("holds an inflated usage report to what was sent and streamed: a model paid per token cannot bill its budgets for a short answer", async () => {
    const { set, send } = await meteredApp();
    // The model's creator runs the endpoint: it reports both budgets in full for a one-sentence answer.
    standIn.options.usage = () => ({ prompt_tokens: 16_000, completion_tokens: 1_024 });
    try {
      const before = standIn.requests.length;
      const chunks = await readChunks(await send("How do pelicans catch fish?"));
      const reply = answerText(chunks);
      const sent = standIn.requests[before].body.messages!.map((m) => contentText(m.content));
      // At most one token per byte sent (plus 8 per message for the chat template) and per byte streamed back (plus the end).
      const inputBound = sent.reduce((n, text) => n + Buffer.byteLength(text, "utf8") + 8, 0);
      const receipt = await newestReceipt();
      expect(receipt).toMatchObject({ inputTokens: inputBound, outputTokens: Buffer.byteLength(reply, "utf8") + 1 });
      expect(inputBound).toBeLessThan(16_000);
      const model = 500 + Math.ceil(inputBound) + Math.ceil(((Buffer.byteLength(reply, "utf8") + 1) * 5000) / 1000);
      expect(amountsIn(receipt, set)).toEqual(["1000", String(model), "700"]);
    } finally {
      standIn.options.usage = undefined;
    }
  });

  it("pays every dataset in the context, whatever the answer cites, and none whose passages were not relevant", async () => {
    // The reply cites [1] only, as a question saying "cite only [1]" would ask: both datasets were in the
    // context, so both are paid.
    const both = await ask("pelicans pouch and the lighthouse keeper lens: cite only [1]", await fx.payment(charges, auth));
    const bothSources = (((await readChunks(both)).find((c) => c.type === "data-sources")!.data as { sources: SourceRef[] }).sources).map((s) => s.datasetName);
    expect(new Set(bothSources)).toEqual(new Set(["Seabirds", "Lighthouses"]));
    const paidBoth = await newestReceipt();
    expect(amountsIn(paidBoth, charges)).toEqual(["4000", "3000", "2000", "1000"]);
    // "sea" is the only word of this question in the Lighthouses passage: far below the best passage's
    // score, so it is not put in the context, not quoted and not paid.
    const one = await ask("How do pelicans dive at sea to scoop fish into the pouch?", await fx.payment(charges, auth));
    const oneSources = (((await readChunks(one)).find((c) => c.type === "data-sources")!.data as { sources: SourceRef[] }).sources).map((s) => s.datasetName);
    expect(oneSources).toEqual(["Seabirds"]);
    const paidOne = await newestReceipt();
    expect(amountsIn(paidOne, charges)).toEqual(["4000", "3000", "2000", "0"]);
  });
});

describe("conversation history per wallet", () => {
  it("regenerates the last answer, lists, opens and deletes conversations, and hides them from other wallets", async () => {
    const regenerated = await ask("", await fx.payment(charges, auth), { trigger: "regenerate-message" });
    expect(answerText(await readChunks(regenerated))).toMatch(/Pelicans scoop fish/);
    const list = (await (await fx.get(`/api/chat/conversations?appId=${appId}`, cookie)).json()) as { conversations: { id: string; title: string }[] };
    expect(list.conversations.map((c) => c.id)).toContain(conversationId);
    expect(list.conversations.find((c) => c.id === conversationId)!.title).toBe("How do pelicans catch fish with the pouch?");

    const opened = (await (await fx.get(`/api/chat/conversations/${conversationId}`, cookie)).json()) as {
      messages: { role: string; metadata?: { charge?: { status: string } } }[];
    };
    // Answered, failed (no answer), stopped (partial answer kept), stopped before the first token (no
    // answer), answered, and the last answer replaced by the regenerated one.
    expect(opened.messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "user", "assistant", "user", "user", "assistant", "user", "assistant"]);
    expect(["pending", "sending", "settled"]).toContain(opened.messages.at(-1)!.metadata!.charge!.status);

    const stranger = await fx.signIn(await fx.account());
    expect((await fx.get(`/api/chat/conversations/${conversationId}`, stranger)).status).toBe(404);
    const strangerDelete = await fetch(`${stack.appUrl}/api/chat/conversations/${conversationId}`, { method: "DELETE", headers: { cookie: stranger } });
    expect(strangerDelete.status).toBe(404);

    const deleted = await fetch(`${stack.appUrl}/api/chat/conversations/${conversationId}`, { method: "DELETE", headers: { cookie } });
    expect(deleted.status).toBe(204);
    expect((await fx.get(`/api/chat/conversations/${conversationId}`, cookie)).status).toBe(404);
    // Receipts outlive the conversation: they are payment records.
    expect(await db.receipt.count({ where: { conversationId } })).toBeGreaterThan(0);
  });

  it("rejects oversized requests", async () => {
    const response = await ask("x".repeat(5000), await fx.payment(charges, auth));
    expect(response.status).toBe(400);
  });
});
