import "server-only";
// Licences to a listing's files (a dataset's original files, a model's weights). The creator drafts a
// version from finished resumable uploads (/api/uploads) and files of earlier versions; the files are stored
// encrypted (storage.ts) and the draft names what `KipLicences.publishVersion` must commit to: the terms'
// hash and the file list's hash. The draft is published only once the server has read a mined
// `VersionPublished` event from this deployment's KipLicences naming the same slot and hashes. A version's
// files are served only to a wallet for which this deployment's `hasLicence` is true (or to the creator).
import { formatUnits, getAddress, isHash, parseEventLogs, parseUnits, type Address, type Hex } from "viem";
import { kipLicencesAbi } from "@/lib/chain/generated";
import { confirmationsFor } from "@/lib/chain/indexer";
import { serverPublicClient } from "@/lib/chain/server-client";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { currentDeployment, paymentToken } from "@/lib/listings/service";
import { DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";
import type { StagedFile } from "@/lib/uploads/staging";
import { licenceFilesHash, licenceTermsHash } from "./hash";
import { licencePathKey, licencePathProblem } from "./paths";
import { storeLicenceFile } from "./storage";
import type { LicenceDraftTransaction } from "./publish";

/** KipLicences.MAX_PRICE: prices and upgrade prices fit uint64. */
const MAX_PRICE = (1n << 64n) - 1n;
/** Kinds whose files can be licensed: a dataset's originals, a model's weights or other files. */
const LICENSABLE = new Set(["dataset", "model"]);

export type DraftFileInput = { upload: string; path?: string } | { file: string; path?: string };

export interface LicenceVersionView {
  id: string;
  version: number | null;
  status: string;
  terms: string;
  termsHash: Hex;
  filesHash: Hex;
  files: { id: string; path: string; size: number; sha256: string }[];
}

async function listedListing(listingId: string) {
  const env = serverEnv();
  const deployment = currentDeployment();
  const listing = await getDb().listing.findUnique({ where: { id: listingId } });
  if (!listing || listing.status !== "listed" || listing.slotId === null || listing.chainId !== env.CHAIN_ID || getAddress(listing.assets) !== getAddress(deployment.assets)) {
    throw new AppError("not_found", "No such listing on this marketplace's chain.");
  }
  return { listing: { ...listing, slotId: listing.slotId }, deployment };
}

async function creatorListing(listingId: string, caller: Address) {
  const found = await listedListing(listingId);
  if (found.listing.creator !== getAddress(caller)) throw new AppError("forbidden", "Only the listing's creator can offer its files under a licence.");
  if (!LICENSABLE.has(found.listing.kind)) throw new AppError("bad_request", "Only datasets and models can offer files under a licence.");
  return found;
}

async function tokenUnits(value: string, field: string): Promise<bigint> {
  const { decimals, symbol } = await paymentToken();
  const fraction = value.split(".")[1] ?? "";
  if (fraction.length > decimals) throw new AppError("bad_request", `Invalid request: ${field}: ${symbol} has ${decimals} decimals; ${value} has ${fraction.length}.`);
  const units = parseUnits(value, decimals);
  if (units > MAX_PRICE) throw new AppError("bad_request", `Invalid request: ${field}: too large (at most ${formatUnits(MAX_PRICE, decimals)} ${symbol}).`);
  return units;
}

function versionView(row: {
  id: string; version: number | null; status: string; terms: string; termsHash: string; filesHash: string;
  files: { path: string; position: number; file: { id: string; size: number; sha256: string } }[];
}): LicenceVersionView {
  return {
    id: row.id,
    version: row.version,
    status: row.status,
    terms: row.terms,
    termsHash: row.termsHash as Hex,
    filesHash: row.filesHash as Hex,
    files: [...row.files].sort((a, b) => a.position - b.position).map((f) => ({ id: f.file.id, path: f.path, size: f.file.size, sha256: f.file.sha256 })),
  };
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

const VERSION_INCLUDE = { files: { include: { file: { select: { id: true, size: true, sha256: true } } } } } as const;

/** New bytes one draft may store (the uploads it names; kept files store nothing again). */
export const MAX_DRAFT_BYTES = 2 * DATASET_LIMITS.maxUploadBytes;
/** Drafts a listing may have waiting for their publishVersion transaction at once. */
export const MAX_OPEN_DRAFTS = 3;
/** A draft not published within this long is deleted, with the files only it named. */
export const DRAFT_EXPIRY_MS = 24 * 3600 * 1000;

/**
 * Deletes every listing's drafts older than DRAFT_EXPIRY_MS, then the stored files that no version names
 * and that are as old (a file being stored for a draft right now is younger, so it is never taken).
 * Run when a draft is made, so storage held by abandoned drafts is bounded by what a day of drafts can hold.
 */
export async function deleteExpiredLicenceDrafts(now = Date.now()): Promise<{ drafts: number; files: number }> {
  const db = getDb();
  const before = new Date(now - DRAFT_EXPIRY_MS);
  const drafts = await db.licenceVersion.deleteMany({ where: { status: "draft", createdAt: { lt: before } } });
  const files = await db.licenceFile.deleteMany({ where: { createdAt: { lt: before }, versions: { none: {} } } });
  return { drafts: drafts.count, files: files.count };
}

/**
 * A draft version from staged uploads (stored encrypted now) and files of published versions (kept by id).
 * Everything that can refuse the draft is checked before a byte is stored: repeated uploads or files, every
 * effective file name (lib/licences/paths.ts) and repeated names ignoring case, the prices, the bytes
 * the draft would store (MAX_DRAFT_BYTES) and the listing's open drafts (MAX_OPEN_DRAFTS).
 * Answers what the creator's wallet must send: publishVersion(slot, price, upgradePrice, termsHash, filesHash).
 */
export async function draftLicenceVersion(
  caller: Address,
  listingId: string,
  input: { terms: string; price: string; upgradePrice: string; files: DraftFileInput[] },
  staged: StagedFile[],
) {
  const { listing } = await creatorListing(listingId, caller);
  const price = await tokenUnits(input.price, "price");
  const upgradePrice = await tokenUnits(input.upgradePrice, "upgradePrice");
  if (upgradePrice > price) throw new AppError("bad_request", "Invalid request: upgradePrice: must not be more than the price.");
  const db = getDb();
  const keptIds = input.files.flatMap((f) => ("file" in f ? [f.file] : []));
  const kept = new Map(
    (
      await db.licenceFile.findMany({
        where: { id: { in: keptIds }, listingId, versions: { some: { version: { status: "published" } } } },
        select: {
          id: true, size: true, sha256: true,
          // The file's name in the newest published version that has it.
          versions: { where: { version: { status: "published" } }, orderBy: { version: { version: "desc" } }, select: { path: true }, take: 1 },
        },
      })
    ).map((f) => [f.id, f]),
  );
  const stagedById = new Map(staged.map((s) => [s.id, s]));

  // The plan: every entry with its effective name, checked in full before anything is stored.
  type Planned = { path: string; kept: { id: string; size: number; sha256: string } } | { path: string; source: StagedFile };
  const plan: Planned[] = [];
  const seenSources = new Set<string>();
  const seenPaths = new Map<string, string>();
  let newBytes = 0;
  for (const entry of input.files) {
    const source = "file" in entry ? entry.file : entry.upload;
    if (seenSources.has(source)) throw new AppError("bad_request", `Invalid request: files: ${"file" in entry ? "file" : "upload"} ${source} is listed twice.`);
    seenSources.add(source);
    let planned: Planned;
    if ("file" in entry) {
      const file = kept.get(entry.file);
      if (!file) throw new AppError("bad_request", `Invalid request: files: ${entry.file} is not a file of a published version of this listing.`);
      planned = { path: entry.path ?? file.versions[0]?.path ?? file.id, kept: file };
    } else {
      const upload = stagedById.get(entry.upload);
      if (!upload) throw new AppError("bad_request", `Invalid request: files: upload ${entry.upload} was not found.`);
      planned = { path: entry.path ?? upload.name, source: upload };
      newBytes += upload.size;
    }
    const problem = licencePathProblem(planned.path);
    if (problem) throw new AppError("bad_request", `Invalid request: files: the name ${JSON.stringify(planned.path)} ${problem}; give the file a path.`);
    const key = licencePathKey(planned.path);
    const earlier = seenPaths.get(key);
    if (earlier !== undefined) throw new AppError("bad_request", `Invalid request: files: ${planned.path} is listed twice (as ${earlier}; names are compared ignoring case).`);
    seenPaths.set(key, planned.path);
    plan.push(planned);
  }
  if (newBytes > MAX_DRAFT_BYTES) {
    throw new AppError("bad_request", `Invalid request: files: the new files of one version may total ${formatBytes(MAX_DRAFT_BYTES)}; these total ${formatBytes(newBytes)}.`);
  }
  await deleteExpiredLicenceDrafts();
  const open = await db.licenceVersion.count({ where: { listingId, status: "draft" } });
  if (open >= MAX_OPEN_DRAFTS) {
    throw new AppError("conflict", `This listing has ${open} drafts waiting to be published; publish one (or wait a day for them to expire) before drafting another.`);
  }

  const encryptionKey = serverEnv().ENCRYPTION_KEY;
  const termsHash = licenceTermsHash(input.terms);
  // Files stored for this draft are deleted again if the draft is not made, so a refused draft leaves nothing.
  const storedIds: string[] = [];
  try {
    const entries: { fileId: string; path: string; size: number; sha256: string }[] = [];
    for (const planned of plan) {
      if ("kept" in planned) {
        entries.push({ fileId: planned.kept.id, path: planned.path, size: planned.kept.size, sha256: planned.kept.sha256 });
      } else {
        const stored = await storeLicenceFile(listingId, planned.source.path, planned.source.size, encryptionKey);
        storedIds.push(stored.id);
        entries.push({ fileId: stored.id, path: planned.path, size: stored.size, sha256: stored.sha256 });
      }
    }
    const filesHash = licenceFilesHash(entries);
    const row = await db.licenceVersion.create({
      data: {
        listingId,
        terms: input.terms,
        termsHash,
        filesHash,
        price: price.toString(),
        upgradePrice: upgradePrice.toString(),
        files: { create: entries.map((e, position) => ({ fileId: e.fileId, path: e.path, position })) },
      },
      include: VERSION_INCLUDE,
    });
    return {
      ...versionView(row),
      transaction: { licences: currentDeployment().licences as Address, slot: listing.slotId, price: price.toString(), upgradePrice: upgradePrice.toString(), termsHash, filesHash } satisfies LicenceDraftTransaction,
    };
  } catch (error) {
    await db.licenceFile.deleteMany({ where: { id: { in: storedIds } } }).catch(() => undefined);
    throw error;
  }
}

/** Publishes a draft once its mined VersionPublished event (this deployment, this slot, these hashes) is read. */
export async function confirmLicenceVersion(caller: Address, listingId: string, versionId: string, txHash: string): Promise<LicenceVersionView> {
  if (!isHash(txHash)) throw new AppError("bad_request", "Invalid request: txHash: must be a 0x-prefixed 32-byte hash.");
  const { listing, deployment } = await creatorListing(listingId, caller);
  const db = getDb();
  const draft = await db.licenceVersion.findFirst({ where: { id: versionId, listingId }, include: VERSION_INCLUDE });
  if (!draft) throw new AppError("not_found", "No such licence version of this listing.");
  if (draft.status === "published") {
    if (draft.publishTxHash?.toLowerCase() === txHash.toLowerCase()) return versionView(draft);
    throw new AppError("conflict", "This version is already published.");
  }
  const receipt = await serverPublicClient().getTransactionReceipt({ hash: txHash as Hex }).catch((error: unknown) => {
    if (error instanceof Error && error.name === "TransactionReceiptNotFoundError") throw new AppError("conflict", "The transaction is not mined yet; try again in a moment.");
    throw new AppError("upstream_unavailable", "The chain cannot be reached right now; try again.", { cause: error });
  });
  if (receipt.status !== "success") throw new AppError("bad_request", "The transaction reverted on chain; nothing was published.");
  const event = parseEventLogs({ abi: kipLicencesAbi, eventName: "VersionPublished", logs: receipt.logs }).find(
    (log) =>
      getAddress(log.address) === getAddress(deployment.licences) &&
      log.args.slot === BigInt(listing.slotId) &&
      log.args.termsHash.toLowerCase() === draft.termsHash.toLowerCase() &&
      log.args.filesHash.toLowerCase() === draft.filesHash.toLowerCase(),
  );
  if (!event) throw new AppError("bad_request", "This transaction did not publish this draft (slot, terms and files hashes) on this deployment's licence contract.");
  // The version is recorded only once its block is as deep as the event index requires (0 on a local chain),
  // so a reorganised-away publish never becomes a published version here.
  const needed = confirmationsFor(serverEnv().CHAIN_ID);
  if (needed > 0) {
    const head = await serverPublicClient().getBlockNumber().catch((error: unknown) => {
      throw new AppError("upstream_unavailable", "The chain cannot be reached right now; try again.", { cause: error });
    });
    const depth = head - receipt.blockNumber;
    if (depth < BigInt(needed)) throw new AppError("conflict", `The transaction has ${depth} of ${needed} confirmations; try again in a minute.`);
  }
  const version = Number(event.args.version);
  const updated = await db.licenceVersion
    .update({ where: { id: draft.id }, data: { status: "published", version, publishTxHash: txHash }, include: VERSION_INCLUDE })
    .catch((error: unknown) => {
      // Another draft with the same slot and hashes was already confirmed with this very transaction.
      if (isUniqueViolation(error)) {
        throw new AppError("conflict", `Version ${version} of this listing is already recorded from this transaction (another draft with the same terms and files); one transaction publishes one draft.`);
      }
      throw error;
    });
  return versionView(updated);
}

/** Versions one read of a listing's licences shows (newest first); older ones with `before`. */
export const LICENCE_PAGE = 20;
/** How long a version's prices read from the chain are reused (the creator may change them). */
const PRICE_CACHE_MS = 5_000;

/** The published versions of a listing's licensed files, newest first, at most `take`, older than `before`. */
export async function licenceVersions(listingId: string, page: { before?: number; take?: number } = {}): Promise<LicenceVersionView[]> {
  const rows = await getDb().licenceVersion.findMany({
    where: { listingId, status: "published", ...(page.before !== undefined ? { version: { lt: page.before } } : {}) },
    include: VERSION_INCLUDE,
    orderBy: { version: "desc" },
    ...(page.take !== undefined ? { take: page.take } : {}),
  });
  return rows.map(versionView);
}

type OnChainVersion = { price: string; upgradePrice: string; termsHash: Hex; filesHash: Hex };
// A version's commitments never change, so they are kept for the process's life; its prices for PRICE_CACHE_MS,
// except for the listing's creator, who reads them fresh (a price they just changed shows at once). Any
// buyer's browser checks the price on chain before paying (licence-offer.tsx), so a cached price never
// takes more than the chain asks.
const committed = new Map<string, { termsHash: Hex; filesHash: Hex }>();
const prices = new Map<string, { price: string; upgradePrice: string; at: number }>();
const MAX_CACHED = 10_000;

async function versionOnChain(address: Address, slot: bigint, version: bigint, fresh: boolean): Promise<OnChainVersion> {
  const key = `${address.toLowerCase()}:${slot}:${version}`;
  const fixed = committed.get(key);
  const priced = prices.get(key);
  if (!fresh && fixed && priced && Date.now() - priced.at < PRICE_CACHE_MS) return { ...priced, ...fixed };
  const read = await serverPublicClient().readContract({ address, abi: kipLicencesAbi, functionName: "versionOf", args: [slot, version] });
  if (committed.size >= MAX_CACHED) committed.clear();
  if (prices.size >= MAX_CACHED) prices.clear();
  committed.set(key, { termsHash: read.termsHash, filesHash: read.filesHash });
  prices.set(key, { price: read.price.toString(), upgradePrice: read.upgradePrice.toString(), at: Date.now() });
  return { price: read.price.toString(), upgradePrice: read.upgradePrice.toString(), termsHash: read.termsHash, filesHash: read.filesHash };
}

/**
 * What the chain says about a listing's licence versions (the newest LICENCE_PAGE, or those older than
 * `before`): prices, commitments and, for a wallet, its licences and price. A version whose chain read
 * failed is left out and named in `unavailable`; only when every read failed is it an error.
 */
export async function licenceOffer(listingId: string, viewer: Address | null, before?: number) {
  const { listing, deployment } = await listedListing(listingId);
  const page = await licenceVersions(listingId, { before, take: LICENCE_PAGE + 1 });
  const versions = page.slice(0, LICENCE_PAGE);
  const client = serverPublicClient();
  const address = deployment.licences as Address;
  const slot = BigInt(listing.slotId);
  const isCreator = viewer !== null && getAddress(viewer) === getAddress(listing.creator);
  const reads = await Promise.allSettled(
    versions.map(async (v) => {
      const version = BigInt(v.version!);
      const [chain, priceFor, licensed] = await Promise.all([
        versionOnChain(address, slot, version, isCreator),
        viewer ? client.readContract({ address, abi: kipLicencesAbi, functionName: "priceOf", args: [slot, version, viewer] }) : null,
        viewer ? client.readContract({ address, abi: kipLicencesAbi, functionName: "hasLicence", args: [slot, version, viewer] }) : false,
      ]);
      return { ...v, chain, viewer: viewer ? { licensed, price: priceFor![0].toString(), upgrade: priceFor![1] } : null };
    }),
  );
  const shown = reads.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const unavailable = versions.filter((_, i) => reads[i].status === "rejected").map((v) => v.version!);
  if (versions.length > 0 && shown.length === 0) {
    const failed = reads.find((r) => r.status === "rejected") as PromiseRejectedResult;
    throw new AppError("upstream_unavailable", "The chain cannot be reached right now; try again.", { cause: failed.reason });
  }
  const nextBefore = page.length > LICENCE_PAGE ? versions[versions.length - 1].version : null;
  return { listingId, slot: listing.slotId, chainId: serverEnv().CHAIN_ID, licences: address, paymentToken: deployment.paymentToken as Address, creator: listing.creator, versions: shown, unavailable, nextBefore };
}

/**
 * The file a download may stream: `version` of the listing must list `fileId`, and the caller must hold a
 * licence to that version on this deployment's KipLicences (read from the chain now), or be the creator.
 */
export async function licensedFileFor(caller: { address: Address; chainId: number }, listingId: string, version: number, fileId: string) {
  const { listing, deployment } = await listedListing(listingId);
  const entry = await getDb().licenceVersionFile.findFirst({
    where: { fileId, version: { listingId, version, status: "published" } },
    include: { file: { select: { id: true, size: true, sha256: true, chunkSize: true, chunkCount: true } } },
  });
  if (!entry) throw new AppError("not_found", `Version ${version} of this listing has no such file.`);
  if (caller.chainId !== serverEnv().CHAIN_ID) throw new AppError("forbidden", `You are signed in on chain ${caller.chainId}; licences here are read on chain ${serverEnv().CHAIN_ID}.`);
  if (getAddress(caller.address) !== listing.creator) {
    // Read at the depth the event index trusts: a purchase a reorganisation could still undo opens nothing.
    const confirmations = confirmationsFor(serverEnv().CHAIN_ID);
    const client = serverPublicClient();
    const licensed = await (async () => {
      const blockNumber = confirmations === 0 ? undefined : (await client.getBlockNumber({ cacheTime: 0 })) - BigInt(confirmations);
      return client.readContract({
        address: deployment.licences as Address,
        abi: kipLicencesAbi,
        functionName: "hasLicence",
        args: [BigInt(listing.slotId), BigInt(version), caller.address],
        blockNumber,
      });
    })().catch((error: unknown) => {
      throw new AppError("upstream_unavailable", "The chain cannot be reached right now, so your licence cannot be checked; try again.", { cause: error });
    });
    if (!licensed) {
      const wait = confirmations === 0 ? "" : ` A licence counts once its purchase has ${confirmations} confirmations.`;
      throw new AppError("forbidden", `${caller.address} holds no licence to version ${version} of this listing on chain ${serverEnv().CHAIN_ID} (KipLicences ${deployment.licences}).${wait}`);
    }
  }
  return { path: entry.path, file: entry.file };
}
