// Licences to a listing's files over real HTTP on anvil with the real contracts: a model's creator uploads
// files with tus, drafts a version, publishes it with KipLicences.publishVersion and the server confirms it
// from the chain; buyers pay on chain and download. Downloads are refused signed out (401), without a
// purchase (403) and with a purchase on another deployment (403); they stream ranges (206/416) and resume
// after a dropped connection; a file a later version removed stays downloadable for the version that had it;
// an upgrade costs max(upgrade price, price - what the buyer paid); and holders earn exactly the price minus the protocol fee.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createWalletClient, http as viemHttp, parseEventLogs, parseUnits, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi, mockUsdAbi } from "@/lib/chain/generated";
import type { ProtocolReport } from "@/lib/chain/reports";
import { createDb } from "@/lib/db-client";
import { licenceFilesHash } from "@/lib/licences/hash";
import { listModel, publishVersion, uploadWhole, type LicenceDraft, type LicenceVersionView } from "../helpers/licences";
import { TestChain } from "../helpers/queries";
import { ART_OF_WAR, SEED_DIR } from "../../scripts/seed/demo";
import { signInOverHttp } from "../helpers/siwe";
import { callApp, type Json } from "../helpers/http";

const stack = inject("stack");
const chain = new TestChain(stack.rpcUrl, stack.chainId, stack.deployment);
const rows = createDb(stack.databaseUrl);
const licences = stack.deployment.licences as Address;
const feeBps = BigInt(stack.deployment.feeBps);
const MiB = 1024 * 1024;

type VersionView = LicenceVersionView;
type Draft = LicenceDraft;

const call = (cookie: string | null, route: string, init: RequestInit & { json?: unknown } = {}) => callApp(stack.appUrl, cookie, route, init);

async function download(cookie: string | null, route: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.appUrl}${route}`, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const upload = (cookie: string, name: string, bytes: Uint8Array) => uploadWhole(stack.appUrl, cookie, name, bytes);

/** Read a download until `stopAfter` bytes have arrived, then drop the connection (a network failure mid-file). */
function interruptedDownload(cookie: string, route: string, stopAfter: number): Promise<{ status: number; etag: string; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${stack.appUrl}${route}`, { headers: { cookie } }, (response) => {
      const parts: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        parts.push(chunk);
        received += chunk.byteLength;
        if (received >= stopAfter) {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, etag: String(response.headers.etag), received: Buffer.concat(parts) });
        }
      });
      response.on("end", () => reject(new Error("the download finished before it was interrupted")));
    });
    request.on("error", (error) => {
      if ((error as NodeJS.ErrnoException).code !== "ECONNRESET") reject(error);
    });
  });
}

let creator: PrivateKeyAccount;
let buyer: PrivateKeyAccount;
let creatorCookie = "";
let buyerCookie = "";
let listingId = "";
let slot = 0n;
let creatorToken = 0n;
const weights = randomBytes(3 * MiB + 12_345);
const readme = Buffer.from("# Tiny model\nWeights in weights.bin, float32, little-endian.\n");
const tokenizer = Buffer.from(JSON.stringify({ vocab: ["a", "b", "c"] }));
let v1: VersionView;
let v2: VersionView;
const V1_PRICE = parseUnits("12.5", 6);
// v2 costs 0.5 more than v1: a v1 buyer pays max(upgrade price, v2 price - what they paid) = the upgrade price.
const V2_PRICE = parseUnits("13", 6);
const UPGRADE_PRICE = parseUnits("2", 6);

const fileRoute = (version: number, fileId: string) => `/api/listings/${listingId}/licences/${version}/files/${fileId}`;
const fileOf = (v: VersionView, name: string) => v.files.find((f) => f.path === name)!;

const publish = (draft: Draft) => publishVersion(stack.appUrl, chain, creator, creatorCookie, listingId, draft);

async function buy(account: PrivateKeyAccount, version: number, maxPrice: bigint, target = licences, token = chain.usd) {
  await chain.send(account, { address: token, abi: mockUsdAbi, functionName: "mint", args: [account.address, maxPrice] });
  await chain.send(account, { address: token, abi: mockUsdAbi, functionName: "approve", args: [target, maxPrice] });
  return chain.send(account, { address: target, abi: kipLicencesAbi, functionName: "buy", args: [slot, BigInt(version), maxPrice] });
}

beforeAll(async () => {
  creator = await chain.freshAccount();
  buyer = await chain.freshAccount();
  creatorCookie = await signInOverHttp(stack.appUrl, stack.chainId, creator);
  buyerCookie = await signInOverHttp(stack.appUrl, stack.chainId, buyer);
  ({ listingId, slot, tokenId: creatorToken } = await listModel(stack, chain, creator, creatorCookie, "Tiny model with weights"));
});

afterAll(async () => {
  await rows.$disconnect();
});

describe("offering files under a licence", () => {
  it("refuses a draft from anyone but the creator", async () => {
    const id = await upload(buyerCookie, "weights.bin", Buffer.from("not theirs"));
    const refused = await call(buyerCookie, `/api/listings/${listingId}/licences`, { method: "POST", json: { terms: "Mine now", price: "1", upgradePrice: "0", files: [{ upload: id }] } });
    expect(refused.status).toBe(403);
    expect(await rows.licenceVersion.count({ where: { listingId } })).toBe(0);
  });

  it("stores the uploaded files encrypted, and publishes the version once the chain has its commitment", async () => {
    const files = [
      { upload: await upload(creatorCookie, "weights.bin", weights) },
      { upload: await upload(creatorCookie, "README.md", readme) },
    ];
    const drafted = await call(creatorCookie, `/api/listings/${listingId}/licences`, {
      method: "POST",
      json: { terms: "Research use only. No redistribution of the weights.", price: "12.5", upgradePrice: "2", files },
    });
    expect(drafted.status, JSON.stringify(drafted.body)).toBe(201);
    const draft = drafted.body as unknown as Draft;
    expect(draft.files.map((f) => [f.path, f.size, f.sha256])).toEqual([
      ["weights.bin", weights.byteLength, sha256(weights)],
      ["README.md", readme.byteLength, sha256(readme)],
    ]);
    expect(draft.transaction).toMatchObject({ licences, slot: Number(slot), price: V1_PRICE.toString(), upgradePrice: UPGRADE_PRICE.toString() });
    // The server's file-list hash is the contract's own hashFiles.
    const onChainHash = await chain.read<Hex>(licences, kipLicencesAbi, "hashFiles", [draft.files.map((f) => ({ path: f.path, size: BigInt(f.size), sha256: `0x${f.sha256}` }))]);
    expect(draft.filesHash).toBe(onChainHash);
    expect(licenceFilesHash(draft.files)).toBe(onChainHash);

    // At rest: four sealed pieces for 3 MiB and a bit, none holding the plain bytes.
    const stored = await rows.licenceChunk.findMany({ where: { fileId: fileOf(draft, "weights.bin").id }, orderBy: { index: "asc" } });
    expect(stored).toHaveLength(4);
    expect(Buffer.from(stored[0].data).includes(weights.subarray(0, 64))).toBe(false);
    const readmeRows = await rows.licenceChunk.findMany({ where: { fileId: fileOf(draft, "README.md").id } });
    expect(Buffer.from(readmeRows[0].data).includes(Buffer.from("Tiny model"))).toBe(false);

    // Not published until the chain says so: a transaction that published something else is refused.
    const other = await chain.send(creator, { address: licences, abi: kipLicencesAbi, functionName: "publishVersion", args: [slot, 1n, 0n, draft.termsHash, `0x${"ab".repeat(32)}`] });
    const wrong = await call(creatorCookie, `/api/listings/${listingId}/licences/confirm`, { method: "POST", json: { versionId: draft.id, txHash: other.transactionHash } });
    expect(wrong.status).toBe(400);
    v1 = await publish(draft);
    expect(v1.status).toBe("published");
    // The decoy above took version 1 on chain; this draft is version 2 there, as the server recorded.
    expect(v1.version).toBe(2);
    const offer = await call(null, `/api/listings/${listingId}/licences`);
    expect(offer.status).toBe(200);
    const versions = offer.body.versions as { version: number; chain: { price: string; filesHash: Hex } }[];
    expect(versions.map((v) => v.version)).toEqual([2]);
    expect(versions[0].chain).toMatchObject({ price: V1_PRICE.toString(), filesHash: draft.filesHash });
  });
});

describe("the demo data", () => {
  it("sells the raw file of The Art of War under a licence, published on chain by its data owner", async () => {
    const listing = await rows.listing.findFirstOrThrow({ where: { name: ART_OF_WAR.name, assets: stack.deployment.assets }, select: { id: true, slotId: true } });
    const offer = await call(null, `/api/listings/${listing.id}/licences`);
    expect(offer.status).toBe(200);
    const versions = offer.body.versions as { version: number; files: { path: string; size: number; sha256: string }[]; chain: { price: string; filesHash: Hex } }[];
    expect(versions.map((v) => v.version)).toEqual([1]);
    const bytes = fs.readFileSync(path.join(SEED_DIR, ART_OF_WAR.file));
    expect(versions[0].files).toEqual([expect.objectContaining({ path: ART_OF_WAR.file, size: bytes.byteLength, sha256: sha256(bytes) })]);
    expect(versions[0].chain.price).toBe(parseUnits("0.5", 6).toString());
    // The chain's commitment is the file list the page shows.
    const { filesHash } = await chain.client.readContract({ address: licences, abi: kipLicencesAbi, functionName: "versionOf", args: [BigInt(listing.slotId!), 1n] });
    expect(filesHash).toBe(versions[0].chain.filesHash);
    expect(filesHash).toBe(licenceFilesHash(versions[0].files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }))));
  });
});

describe("downloading", () => {
  it("answers 401 signed out and 403 without a purchase", async () => {
    const route = fileRoute(v1.version!, fileOf(v1, "weights.bin").id);
    const signedOut = await download(null, route);
    expect(signedOut.response.status).toBe(401);
    const unpaid = await download(buyerCookie, route);
    expect(unpaid.response.status).toBe(403);
    expect(unpaid.bytes.toString()).toMatch(/holds no licence to version 2/);
  });

  it("answers 403 for a purchase of the same slot and version on another deployment", async () => {
    // A second deployment of the same contracts on the same chain, with the same slot id and version.
    const deployer = await chain.freshAccount();
    const wallet = createWalletClient({ account: deployer, chain: chain.chain, transport: viemHttp(stack.rpcUrl) });
    const artifact = (name: string) => JSON.parse(fs.readFileSync(path.join("contracts", "out", `${name}.sol`, `${name}.json`), "utf8")).bytecode.object as Hex;
    const deploy = async (name: string, abi: readonly unknown[], args: readonly unknown[]) => {
      const hash = await wallet.deployContract({ abi: abi as never, bytecode: artifact(name), args: args as never });
      return (await chain.client.waitForTransactionReceipt({ hash })).contractAddress!;
    };
    const otherAssets = await deploy("KipAssets", kipAssetsAbi, [chain.usd, "http://localhost/", deployer.address]);
    const otherSettlement = await deploy("KipSettlement", kipSettlementAbi, [chain.usd, otherAssets, deployer.address, feeBps, 3600n, deployer.address]);
    const otherLicences = await deploy("KipLicences", kipLicencesAbi, [otherAssets, otherSettlement]);
    await chain.send(deployer, { address: otherAssets, abi: kipAssetsAbi, functionName: "setSettlement", args: [otherSettlement] });
    await chain.send(deployer, { address: otherAssets, abi: kipAssetsAbi, functionName: "setLicences", args: [otherLicences] });
    for (let s = 1n; s <= slot; s++) {
      await chain.send(creator, { address: otherAssets, abi: kipAssetsAbi, functionName: "list", args: [1, 1n, "ipfs://other", `0x${"22".repeat(32)}`] });
    }
    for (let v = 1; v <= v1.version!; v++) {
      await chain.send(creator, { address: otherLicences, abi: kipLicencesAbi, functionName: "publishVersion", args: [slot, 1n, 0n, v1.termsHash, v1.filesHash] });
    }
    await buy(buyer, v1.version!, 1n, otherLicences);
    expect(await chain.read<boolean>(otherLicences, kipLicencesAbi, "hasLicence", [slot, BigInt(v1.version!), buyer.address])).toBe(true);

    const refused = await download(buyerCookie, fileRoute(v1.version!, fileOf(v1, "weights.bin").id));
    expect(refused.response.status).toBe(403);
  });

  it("after a purchase, pays the slot's holders the price minus the fee exactly, and streams the file", async () => {
    const before = {
      claimable: await chain.claimable(creatorToken),
      revenue: (await chain.read<{ revenue: bigint }>(chain.assets, kipAssetsAbi, "slotInfo", [slot])).revenue,
      fees: await chain.read<bigint>(licences, kipLicencesAbi, "feesAccrued"),
      protocol: (await call(null, "/api/earnings/protocol")).body as unknown as ProtocolReport,
    };
    // A buyer who accepts less than the price gets nothing and pays nothing.
    await expect(buy(buyer, v1.version!, V1_PRICE - 1n)).rejects.toThrow();
    const receipt = await buy(buyer, v1.version!, V1_PRICE);
    const [bought] = parseEventLogs({ abi: kipLicencesAbi, eventName: "LicenceBought", logs: receipt.logs });
    const fee = (V1_PRICE * feeBps) / 10_000n;
    expect(bought.args).toMatchObject({ slot, version: BigInt(v1.version!), buyer: buyer.address, price: V1_PRICE, fee, upgrade: false });
    const claimable = (await chain.claimable(creatorToken)) - before.claimable;
    const fees = (await chain.read<bigint>(licences, kipLicencesAbi, "feesAccrued")) - before.fees;
    expect(claimable).toBe(V1_PRICE - fee);
    expect(fees).toBe(fee);
    expect(claimable + fees).toBe(V1_PRICE);
    expect((await chain.read<{ revenue: bigint }>(chain.assets, kipAssetsAbi, "slotInfo", [slot])).revenue - before.revenue).toBe(V1_PRICE - fee);
    // The earnings the dashboards show, read from the chain.
    const earnings = await call(null, `/api/earnings/slots/${slot}`);
    expect(earnings.status).toBe(200);
    const report = earnings.body as unknown as { asset: { revenue: string }; holders: { tokenId: string; claimable: string }[] };
    expect(BigInt(report.asset.revenue)).toBe(before.revenue + V1_PRICE - fee);
    expect(report.holders.find((h) => h.tokenId === creatorToken.toString())?.claimable).toBe((before.claimable + V1_PRICE - fee).toString());
    // The protocol page counts the sale: paid, fee, net to holders, and fees waiting for the treasury.
    const protocol = (await call(null, "/api/earnings/protocol")).body as unknown as ProtocolReport;
    expect(protocol.licencesSold - before.protocol.licencesSold).toBe(1);
    expect(BigInt(protocol.totalPaid) - BigInt(before.protocol.totalPaid)).toBe(V1_PRICE);
    expect(BigInt(protocol.fees) - BigInt(before.protocol.fees)).toBe(fee);
    expect(BigInt(protocol.netToHolders) - BigInt(before.protocol.netToHolders)).toBe(V1_PRICE - fee);
    expect(BigInt(protocol.feesAccrued) - BigInt(before.protocol.feesAccrued)).toBe(fee);

    const whole = await download(buyerCookie, fileRoute(v1.version!, fileOf(v1, "weights.bin").id));
    expect(whole.response.status).toBe(200);
    expect(whole.response.headers.get("accept-ranges")).toBe("bytes");
    expect(whole.response.headers.get("content-encoding")).toBeNull();
    expect(whole.response.headers.get("etag")).toBe(`"${sha256(weights)}"`);
    expect(sha256(whole.bytes)).toBe(sha256(weights));
    const small = await download(buyerCookie, fileRoute(v1.version!, fileOf(v1, "README.md").id));
    expect(small.bytes.equals(readme)).toBe(true);
    // The creator needs no licence to their own files.
    expect((await download(creatorCookie, fileRoute(v1.version!, fileOf(v1, "README.md").id))).response.status).toBe(200);
  });

  it("serves byte ranges (206, Content-Range) and refuses one past the end (416)", async () => {
    const route = fileRoute(v1.version!, fileOf(v1, "weights.bin").id);
    const size = weights.byteLength;
    const open = await download(buyerCookie, route, { range: "bytes=0-" });
    expect(open.response.status).toBe(206);
    expect(open.response.headers.get("content-range")).toBe(`bytes 0-${size - 1}/${size}`);
    expect(sha256(open.bytes)).toBe(sha256(weights));
    const first = await download(buyerCookie, route, { range: "bytes=0-99" });
    expect(first.response.status).toBe(206);
    expect(first.response.headers.get("content-range")).toBe(`bytes 0-99/${size}`);
    expect(first.bytes.equals(weights.subarray(0, 100))).toBe(true);
    // Across the boundary of two stored pieces.
    const across = await download(buyerCookie, route, { range: `bytes=${MiB - 10}-${MiB + 9}` });
    expect(across.response.status).toBe(206);
    expect(across.bytes.equals(weights.subarray(MiB - 10, MiB + 10))).toBe(true);
    const suffix = await download(buyerCookie, route, { range: "bytes=-10" });
    expect(suffix.response.headers.get("content-range")).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    expect(suffix.bytes.equals(weights.subarray(size - 10))).toBe(true);
    const past = await download(buyerCookie, route, { range: `bytes=${size}-` });
    expect(past.response.status).toBe(416);
    expect(past.response.headers.get("content-range")).toBe(`bytes */${size}`);
    // If-Range with another validator: the whole (changed) file, not a range of it.
    const stale = await download(buyerCookie, route, { range: "bytes=0-9", "if-range": '"0000"' });
    expect(stale.response.status).toBe(200);
    expect(stale.bytes.byteLength).toBe(size);
  });

  it("resumes an interrupted download with a range request", async () => {
    const route = fileRoute(v1.version!, fileOf(v1, "weights.bin").id);
    const cut = await interruptedDownload(buyerCookie, route, MiB + 500_000);
    expect(cut.status).toBe(200);
    expect(cut.received.byteLength).toBeLessThan(weights.byteLength);
    const rest = await download(buyerCookie, route, { range: `bytes=${cut.received.byteLength}-`, "if-range": cut.etag });
    expect(rest.response.status).toBe(206);
    expect(rest.response.headers.get("content-range")).toBe(`bytes ${cut.received.byteLength}-${weights.byteLength - 1}/${weights.byteLength}`);
    const joined = Buffer.concat([cut.received, rest.bytes]);
    expect(sha256(joined)).toBe(sha256(weights));
  });
});

describe("versions", () => {
  it("offers a later version at the upgrade price, and a removed file stays with the version that had it", async () => {
    // The next version drops weights.bin, keeps README.md and adds tokenizer.json.
    const drafted = await call(creatorCookie, `/api/listings/${listingId}/licences`, {
      method: "POST",
      json: {
        terms: "Research use only. No redistribution of the weights.",
        price: "13",
        upgradePrice: "2",
        files: [{ file: fileOf(v1, "README.md").id }, { upload: await upload(creatorCookie, "tokenizer.json", tokenizer) }],
      },
    });
    expect(drafted.status, JSON.stringify(drafted.body)).toBe(201);
    v2 = await publish(drafted.body as unknown as Draft);
    expect(v2.files.map((f) => f.path)).toEqual(["README.md", "tokenizer.json"]);

    const asBuyer = await call(buyerCookie, `/api/listings/${listingId}/licences`);
    const latest = (asBuyer.body.versions as { version: number; viewer: { licensed: boolean; price: string; upgrade: boolean } }[])[0];
    expect(latest).toMatchObject({ version: v2.version, viewer: { licensed: false, price: UPGRADE_PRICE.toString(), upgrade: true } });
    // The v1 licence does not cover v2.
    expect((await download(buyerCookie, fileRoute(v2.version!, fileOf(v2, "tokenizer.json").id))).response.status).toBe(403);

    const revenueBefore = (await chain.read<{ revenue: bigint }>(chain.assets, kipAssetsAbi, "slotInfo", [slot])).revenue;
    const paidBefore = await chain.usdBalance(buyer.address);
    const receipt = await buy(buyer, v2.version!, UPGRADE_PRICE);
    const [bought] = parseEventLogs({ abi: kipLicencesAbi, eventName: "LicenceBought", logs: receipt.logs });
    expect(bought.args).toMatchObject({ price: UPGRADE_PRICE, upgrade: true });
    expect((await chain.usdBalance(buyer.address)) - paidBefore).toBe(0n); // minted exactly the upgrade price, all spent
    expect((await chain.read<{ revenue: bigint }>(chain.assets, kipAssetsAbi, "slotInfo", [slot])).revenue - revenueBefore).toBe(UPGRADE_PRICE - (UPGRADE_PRICE * feeBps) / 10_000n);
    const tokenizerDownload = await download(buyerCookie, fileRoute(v2.version!, fileOf(v2, "tokenizer.json").id));
    expect(tokenizerDownload.bytes.equals(tokenizer)).toBe(true);

    // weights.bin is not in v2, but the v1 buyer still gets it from v1.
    const weightsId = fileOf(v1, "weights.bin").id;
    expect((await download(buyerCookie, fileRoute(v2.version!, weightsId))).response.status).toBe(404);
    const kept = await download(buyerCookie, fileRoute(v1.version!, weightsId));
    expect(kept.response.status).toBe(200);
    expect(sha256(kept.bytes)).toBe(sha256(weights));

    // A new buyer of v2 pays its full price and gets v2 only: not the file v2 removed.
    const newcomer = await chain.freshAccount();
    const newcomerCookie = await signInOverHttp(stack.appUrl, stack.chainId, newcomer);
    const full = await buy(newcomer, v2.version!, V2_PRICE);
    expect(parseEventLogs({ abi: kipLicencesAbi, eventName: "LicenceBought", logs: full.logs })[0].args).toMatchObject({ price: V2_PRICE, upgrade: false });
    expect((await download(newcomerCookie, fileRoute(v2.version!, fileOf(v2, "README.md").id))).bytes.equals(readme)).toBe(true);
    expect((await download(newcomerCookie, fileRoute(v1.version!, weightsId))).response.status).toBe(403);
  });
});
