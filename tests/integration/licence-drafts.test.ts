// Attacks on licence drafts and on the public licence read, over real HTTP on anvil with the real contracts:
// a draft that names one upload many times (to store it once per entry), uploaded file names that escape the
// version's folder or hide characters, names repeated with another case, prices the contract refuses, more
// drafts than a listing may keep open, drafts never published (deleted after a day with their files), one
// transaction confirming two identical drafts, a kept file's name taken from the newest version, and the
// public read: paged, rate-limited, and still answering when one version's chain read fails.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseEventLogs, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { kipLicencesAbi } from "@/lib/chain/generated";
import { createDb } from "@/lib/db-client";
import { inOneRateWindow } from "../helpers/rate-window";
import { licenceTermsHash } from "@/lib/licences/hash";
import { listModel, publishVersion, uploadWhole, type LicenceDraft } from "../helpers/licences";
import { TestChain } from "../helpers/queries";
import { signInOverHttp } from "../helpers/siwe";
import { callApp, type Json } from "../helpers/http";

const stack = inject("stack");
const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
const rows = createDb(stack.databaseUrl);
const licences = stack.deployment.licences as Address;

let clientNumber = 0;
/** Each call comes from its own client address (the proxy's X-Forwarded-For), or `from`, so address limits stay out of the way. */
function call(cookie: string | null, route: string, init: RequestInit & { json?: unknown; from?: string } = {}) {
  const { from, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("x-forwarded-for", from ?? `203.0.113.${(clientNumber++ % 200) + 1}`);
  return callApp(stack.appUrl, cookie, route, { ...rest, headers });
}

interface Seller {
  account: PrivateKeyAccount;
  cookie: string;
  listingId: string;
  slot: bigint;
}

/** A fresh creator (each has its own per-wallet upload limit) with a model listed on chain. */
async function seller(name: string): Promise<Seller> {
  const account = await chain.freshAccount();
  const cookie = await signInOverHttp(stack.appUrl, stack.chainId, account);
  const { listingId, slot } = await listModel(stack, chain, account, cookie, name);
  return { account, cookie, listingId, slot };
}

const draft = (s: Seller, body: unknown) => call(s.cookie, `/api/listings/${s.listingId}/licences`, { method: "POST", json: body });
const upload = (s: Seller, name: string, bytes: Uint8Array) => uploadWhole(stack.appUrl, s.cookie, name, bytes);
const storedFiles = (s: Seller) => rows.licenceFile.count({ where: { listingId: s.listingId } });
const storedChunks = (s: Seller) => rows.licenceChunk.count({ where: { file: { listingId: s.listingId } } });
const terms = "Research use only.";

afterAll(async () => {
  await rows.$disconnect();
});

describe("a draft is checked in full before anything is stored", () => {
  let s: Seller;
  beforeAll(async () => {
    s = await seller("Model with a crafted draft");
  });

  it("refuses one upload named twice (even under two paths) and stores nothing", async () => {
    const id = await upload(s, "weights.bin", randomBytes(64 * 1024));
    const refused = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: id, path: "a.bin" }, { upload: id, path: "b.bin" }] });
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(refused.body.error?.message).toMatch(/upload [0-9a-f]{32} is listed twice/);
    expect(await storedFiles(s)).toBe(0);
    expect(await rows.licenceVersion.count({ where: { listingId: s.listingId } })).toBe(0);
    // The upload is still staged: the creator can use it in a correct draft.
    const fine = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: id, path: "a.bin" }] });
    expect(fine.status, JSON.stringify(fine.body)).toBe(201);
  });

  it("refuses uploaded file names that escape the folder or hide characters, before storing", async () => {
    for (const name of ["../../x", "a/../../etc/passwd", "dir\\weights.bin", "/abs.bin", "weights\u202Egnp.exe", "zero\u200Bwidth.bin", "bell\u0007.bin"]) {
      const id = await upload(s, name, Buffer.from(`bytes of ${name}`));
      const before = await storedFiles(s);
      const refused = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: id }] });
      expect(refused.status, `${JSON.stringify(name)}: ${JSON.stringify(refused.body)}`).toBe(400);
      expect(refused.body.error?.message).toContain("give the file a path");
      expect(await storedFiles(s)).toBe(before);
    }
    // The same kind of name given explicitly is refused by the request's schema.
    const id = await upload(s, "fine.bin", Buffer.from("fine"));
    const explicit = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: id, path: "x\u202E.bin" }] });
    expect(explicit.status).toBe(400);
  });

  it("refuses two files whose names differ only in case, and stores neither", async () => {
    const before = { files: await storedFiles(s), chunks: await storedChunks(s) };
    const a = await upload(s, "README.md", Buffer.from("one"));
    const b = await upload(s, "readme.MD", Buffer.from("two"));
    const refused = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: a }, { upload: b }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toMatch(/readme\.MD is listed twice \(as README\.md/);
    expect({ files: await storedFiles(s), chunks: await storedChunks(s) }).toEqual(before);
  });

  it("refuses prices the contract would refuse: above uint64, or an upgrade above the price", async () => {
    const id = await upload(s, "p.bin", Buffer.from("p"));
    const tooHigh = await draft(s, { terms, price: "18446744073709.551616", upgradePrice: "0", files: [{ upload: id }] });
    expect(tooHigh.status).toBe(400);
    expect(tooHigh.body.error?.message).toMatch(/price: too large/);
    const upgrade = await draft(s, { terms, price: "1", upgradePrice: "2", files: [{ upload: id }] });
    expect(upgrade.status).toBe(400);
    expect(upgrade.body.error?.message).toMatch(/upgradePrice: must not be more than the price/);
  });
});

describe("open drafts are bounded and expire", () => {
  it("allows three open drafts per listing; a day later they and their files are gone", async () => {
    const s = await seller("Model with abandoned drafts");
    const drafts: LicenceDraft[] = [];
    for (let i = 0; i < 3; i++) {
      const made = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: await upload(s, `v${i}.bin`, randomBytes(2048)) }] });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      drafts.push(made.body as unknown as LicenceDraft);
    }
    const extra = await upload(s, "extra.bin", randomBytes(2048));
    const fourth = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: extra }] });
    expect(fourth.status).toBe(409);
    expect(fourth.body.error?.message).toMatch(/3 drafts waiting to be published/);
    expect(await storedFiles(s)).toBe(3);

    // A day passes without a publishVersion: the drafts are older than the expiry.
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await rows.licenceVersion.updateMany({ where: { listingId: s.listingId, status: "draft" }, data: { createdAt: dayAgo } });
    await rows.licenceFile.updateMany({ where: { listingId: s.listingId }, data: { createdAt: dayAgo } });
    const next = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: extra }] });
    expect(next.status, JSON.stringify(next.body)).toBe(201);
    const left = await rows.licenceVersion.findMany({ where: { listingId: s.listingId }, select: { id: true } });
    expect(left.map((v) => v.id)).toEqual([(next.body as unknown as LicenceDraft).id]);
    // Only the new draft's file (and its pieces) is stored.
    expect(await storedFiles(s)).toBe(1);
    for (const d of drafts) expect(await rows.licenceChunk.count({ where: { fileId: d.files[0].id } })).toBe(0);
  });
});

describe("confirming", () => {
  it("answers 409 when one transaction is used to confirm two identical drafts", async () => {
    const s = await seller("Model with twin drafts");
    const bytes = randomBytes(1000);
    const a = (await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: await upload(s, "same.bin", bytes) }] })).body as unknown as LicenceDraft;
    const b = (await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: await upload(s, "same.bin", bytes) }] })).body as unknown as LicenceDraft;
    expect(b.filesHash).toBe(a.filesHash);
    const published = await publishVersion(stack.appUrl, chain, s.account, s.cookie, s.listingId, a);
    expect(published.status).toBe("published");
    const tx = (await rows.licenceVersion.findUniqueOrThrow({ where: { id: a.id } })).publishTxHash!;
    const twin = await call(s.cookie, `/api/listings/${s.listingId}/licences/confirm`, { method: "POST", json: { versionId: b.id, txHash: tx } });
    expect(twin.status, JSON.stringify(twin.body)).toBe(409);
    expect(twin.body.error?.message).toMatch(/one transaction publishes one draft/);
    expect((await rows.licenceVersion.findUniqueOrThrow({ where: { id: b.id } })).status).toBe("draft");
  });

  it("names a kept file as in the newest version that has it, and refuses a file of a draft only", async () => {
    const s = await seller("Model whose file is renamed");
    const first = (await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: await upload(s, "old-name.bin", randomBytes(500)) }] })).body as unknown as LicenceDraft;
    const v1 = await publishVersion(stack.appUrl, chain, s.account, s.cookie, s.listingId, first);
    const fileId = v1.files[0].id;
    const second = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ file: fileId, path: "new-name.bin" }] });
    await publishVersion(stack.appUrl, chain, s.account, s.cookie, s.listingId, second.body as unknown as LicenceDraft);
    const third = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ file: fileId }] });
    expect(third.status, JSON.stringify(third.body)).toBe(201);
    expect((third.body as unknown as LicenceDraft).files.map((f) => f.path)).toEqual(["new-name.bin"]);
    // The same file named twice is refused too.
    const twice = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ file: fileId }, { file: fileId, path: "copy.bin" }] });
    expect(twice.status).toBe(400);
    // A file only an unpublished draft names cannot be kept.
    const only = (await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ upload: await upload(s, "draft.bin", randomBytes(10)) }] })).body as unknown as LicenceDraft;
    const kept = await draft(s, { terms, price: "1", upgradePrice: "0", files: [{ file: only.files[0].id }] });
    expect(kept.status).toBe(400);
    expect(kept.body.error?.message).toMatch(/is not a file of a published version/);
  });
});

describe("the public licence read", () => {
  it("shows the newest 20 versions, pages to older ones, and leaves out a version it cannot read", async () => {
    const s = await seller("Model with many versions");
    const termsHash = licenceTermsHash(terms);
    const filesHash = `0x${"5a".repeat(32)}` as Hex;
    // 21 versions published on chain by the creator's wallet; the server's rows for them as confirm records them.
    for (let v = 1; v <= 21; v++) {
      const receipt = await chain.send(s.account, { address: licences, abi: kipLicencesAbi, functionName: "publishVersion", args: [s.slot, BigInt(v), 0n, termsHash, filesHash] });
      const [event] = parseEventLogs({ abi: kipLicencesAbi, eventName: "VersionPublished", logs: receipt.logs });
      expect(event.args.version).toBe(BigInt(v));
      await rows.licenceVersion.create({
        data: { listingId: s.listingId, version: v, status: "published", terms, termsHash, filesHash, price: String(v), upgradePrice: "0", publishTxHash: receipt.transactionHash },
      });
    }
    // A version the chain does not have (its read reverts): the rest of the section is still shown.
    await rows.licenceVersion.create({ data: { listingId: s.listingId, version: 999, status: "published", terms, termsHash, filesHash, price: "1", upgradePrice: "0" } });

    const first = await call(null, `/api/listings/${s.listingId}/licences`);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const versions = first.body.versions as { version: number; chain: { price: string; filesHash: Hex } }[];
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 19 }, (_, i) => 21 - i));
    expect(versions[0].chain).toMatchObject({ price: "21", filesHash });
    expect(first.body.unavailable).toEqual([999]);
    expect(first.body.nextBefore).toBe(3);
    const older = await call(null, `/api/listings/${s.listingId}/licences?before=3`);
    expect((older.body.versions as { version: number }[]).map((v) => v.version)).toEqual([2, 1]);
    expect(older.body.nextBefore).toBeNull();
    expect((await call(null, `/api/listings/${s.listingId}/licences?before=abc`)).status).toBe(400);

    // A price change on chain shows within the price cache's few seconds (the commitments are cached for good).
    await chain.send(s.account, { address: licences, abi: kipLicencesAbi, functionName: "setVersionPrice", args: [s.slot, 21n, 77n, 0n] });
    await expect.poll(async () => ((await call(null, `/api/listings/${s.listingId}/licences`)).body.versions as { chain: { price: string } }[])[0].chain.price, { timeout: 15_000, interval: 500 }).toBe("77");
  });

  it("is rate-limited per client address", async () => {
    const limit = Number(stack.env.EARNINGS_RATE_LIMIT_IP);
    const from = "198.51.100.77";
    const statuses: number[] = [];
    await inOneRateWindow(rows);
    // An unknown listing is the cheapest read, and it still counts.
    for (let sent = 0; sent < limit + 2; sent += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, limit + 2 - sent) }, () => call(null, "/api/listings/cl0000000000000000000000/licences", { from })),
      );
      statuses.push(...batch.map((r) => r.status));
    }
    const unknown = statuses[0];
    expect([400, 404]).toContain(unknown);
    expect(statuses.filter((status) => status === unknown)).toHaveLength(limit);
    expect(statuses.filter((status) => status === 429)).toHaveLength(2);
    expect((await call(null, "/api/listings/cl0000000000000000000000/licences", { from: "198.51.100.78" })).status).toBe(unknown);
  });
});
