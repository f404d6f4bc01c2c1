import "server-only";
// Creating, listing, editing and discarding listings. A listing starts as a draft in the database (never
// shown in the marketplace); the creator's wallet sends KipAssets.list(kind, price, uri, contentHash);
// the row becomes "listed" only after the server has read the mined receipt and found an AssetListed
// event from this contract whose creator, kind, price, URI and content hash are the draft's. A reverted
// transaction marks the draft "failed" (retry or discard); nothing is ever listed from a client's say-so.
import { decodeFunctionData, getAddress, isHash, parseEventLogs, parseUnits, type Address, type Hex } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { readDeployment, type Deployment } from "@/lib/chain/deployment";
import { serverPublicClient } from "@/lib/chain/server-client";
import { readTokenInfo } from "@/lib/chain/token";
import { encryptString, modelApiKeyAad } from "@/lib/crypto";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { OFFLINE_MODEL_NAME } from "@/lib/ai/offline";
import { startIndexing } from "@/lib/datasets/indexer";
import { BM25_RETRIEVER } from "@/lib/rag/bm25";
import { prepareDocuments, storeDocuments, finishStoredDocuments, type UploadedFile } from "@/lib/rag/ingest";
import { storeUploadedDocuments, type Refusal, type UploadSource } from "@/lib/rag/ingest-uploads";
import { KIND_TO_CHAIN, buildSlotMetadata, kindImageUrl, listingMetadataUri, type ListingKind } from "@/lib/listings/metadata";
import { MAX_PRICE_TOKENS, type AppFields, type ListingFields, type ModelFields } from "@/lib/listings/schemas";
import type { Prisma } from "@/lib/generated/prisma/client";

export function currentDeployment(): Deployment {
  const env = serverEnv();
  try {
    return readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
  } catch (error) {
    throw new AppError("upstream_unavailable", `The contracts are not deployed on chain ${env.CHAIN_ID}.`, { cause: error });
  }
}

export async function paymentToken() {
  const deployment = currentDeployment();
  const token = await readTokenInfo(deployment.paymentToken as Address);
  if (!token) throw new AppError("upstream_unavailable", `The chain (${serverEnv().CHAIN_ID}) cannot be reached right now.`);
  return token;
}

/** A price in whole tokens ("0.002") as base units, checked against the token's decimals and the range. */
export async function priceToBaseUnits(price: string, field = "price", per = "per query"): Promise<bigint> {
  const { decimals, symbol } = await paymentToken();
  const fraction = price.split(".")[1] ?? "";
  if (fraction.length > decimals) {
    throw new AppError("bad_request", `Invalid request: ${field}: ${symbol} has ${decimals} decimals; ${price} has ${fraction.length}.`);
  }
  const units = parseUnits(price, decimals);
  if (units > parseUnits(String(MAX_PRICE_TOKENS), decimals)) {
    throw new AppError("bad_request", `Invalid request: ${field}: must be at most ${MAX_PRICE_TOKENS} ${symbol} ${per}.`);
  }
  return units;
}

/** What the creator's wallet must send for a draft: KipAssets.list(kind, price, uri, contentHash). */
export function listTransaction(listing: { id: string; kind: string; pricePerQuery: string; contentHash: string }) {
  return {
    kind: KIND_TO_CHAIN[listing.kind as ListingKind],
    price: listing.pricePerQuery,
    uri: listingMetadataUri(serverEnv().APP_URL, listing.id),
    contentHash: listing.contentHash as Hex,
  };
}

type Tx = Prisma.TransactionClient;

async function createListingRow(tx: Tx, creator: Address, kind: ListingKind, fields: ListingFields, price: bigint) {
  const deployment = currentDeployment();
  return tx.listing.create({
    data: {
      chainId: deployment.chainId,
      assets: deployment.assets,
      kind,
      creator: getAddress(creator),
      name: fields.name,
      description: fields.description,
      tags: JSON.stringify(fields.tags),
      pricePerQuery: price.toString(),
      metadataJson: "",
      contentHash: "",
      status: "draft",
    },
  });
}

type MetadataListing = { id: string; kind: string; creator: string; name: string; description: string; tags: string };

/** The slot metadata of a listing with `description` and its kind's `properties` (what setMetadata commits to). */
export function slotMetadataOf(listing: MetadataListing, description: string, properties: Record<string, string | number | boolean | string[]>) {
  return buildSlotMetadata({
    listingId: listing.id,
    kind: listing.kind as ListingKind,
    name: listing.name,
    description,
    creator: listing.creator as Hex,
    externalUrl: `${serverEnv().APP_URL.replace(/\/$/, "")}/listings/${listing.id}`,
    image: kindImageUrl(serverEnv().APP_URL, listing.kind as ListingKind),
    properties: { ...properties, tags: JSON.parse(listing.tags) as string[] },
  });
}

async function writeMetadata(tx: Tx, listing: MetadataListing, properties: Record<string, string | number | boolean | string[]>) {
  const { json, contentHash } = slotMetadataOf(listing, listing.description, properties);
  return tx.listing.update({ where: { id: listing.id }, data: { metadataJson: json, contentHash } });
}

/**
 * The kind-specific facts a listing's metadata commits to (rebuilt on edits and new dataset versions).
 * One relation per query: Prisma loads sibling relations at the same time, and a transaction's one
 * connection runs one query at a time (pg queues the others, which pg 9 will refuse).
 */
export async function metadataProperties(tx: Tx, listingId: string): Promise<Record<string, string | number | boolean | string[]>> {
  const { kind } = await tx.listing.findUniqueOrThrow({ where: { id: listingId }, select: { kind: true } });
  const dataset =
    kind === "dataset"
      ? await tx.dataset.findUnique({
          where: { listingId },
          include: { documents: { where: { removedInVersion: null }, select: { sha256: true, addedInVersion: true }, orderBy: { position: "asc" } } },
        })
      : null;
  if (dataset) {
    const { version } = dataset;
    return {
      license: dataset.license,
      embedder: dataset.embedder,
      version,
      content_hash: dataset.contentHash,
      // The current version's documents (not those a newer version is still adding)
      documents: dataset.documents.filter((doc) => doc.addedInVersion <= version).map((doc) => `sha256:${doc.sha256}`),
    };
  }
  const model = kind === "model" ? await tx.modelEndpoint.findUnique({ where: { listingId } }) : null;
  if (model) {
    return {
      provider: model.provider,
      model: model.modelName,
      price_per_1k_input_tokens_units: model.pricePerKInput,
      price_per_1k_output_tokens_units: model.pricePerKOutput,
    };
  }
  const app = kind === "app" ? await tx.app.findUnique({ where: { listingId }, include: { datasets: { include: { dataset: { include: { listing: true } } } } } }) : null;
  if (app) {
    const appModel = await tx.listing.findUniqueOrThrow({ where: { id: app.modelId }, select: { slotId: true } });
    return {
      model: app.modelId,
      model_slot: String(appModel.slotId),
      datasets: app.datasets.map((d) => d.datasetId),
      dataset_slots: app.datasets.map((d) => String(d.dataset.listing.slotId)),
      top_k: app.topK,
    };
  }
  return {};
}

export async function createDatasetDraft(creator: Address, fields: ListingFields & { license: string }, files: UploadedFile[]) {
  const price = await priceToBaseUnits(fields.price);
  const documents = await prepareDocuments(files);
  const key = serverEnv().ENCRYPTION_KEY;
  const db = getDb();
  const row = await db.$transaction(async (tx) => {
    const created = await createListingRow(tx, creator, "dataset", fields, price);
    await tx.dataset.create({ data: { listingId: created.id, license: fields.license, embedder: BM25_RETRIEVER, status: "indexing" } });
    return created;
  });
  let listing;
  try {
    // The files go in through the bulk writer (outside a Prisma transaction, which would hold the lock).
    await storeDocuments(db, row.id, documents, key);
    listing = await db.$transaction(async (tx) => writeMetadata(tx, row, await metadataProperties(tx, row.id)));
  } catch (error) {
    // Nothing half-made: the draft and everything under it go.
    await db.listing.delete({ where: { id: row.id } }).catch(() => undefined);
    throw error;
  }
  void startIndexing(listing.id, new Map(documents.map((doc) => [doc.sha256, doc])));
  return listing;
}

/**
 * A dataset draft from staged uploads (files and archives). Documents are checked and stored as the
 * uploads are read; the ones refused are returned, each with its reason, and the others make the draft.
 * When none can be used, nothing is kept and the error lists every refusal.
 */
export async function createDatasetDraftFromUploads(
  creator: Address,
  fields: ListingFields & { license: string },
  sources: readonly UploadSource[],
): Promise<{ listing: { id: string }; refused: Refusal[] }> {
  const price = await priceToBaseUnits(fields.price);
  if (sources.length === 0) throw new AppError("bad_request", "Add at least one file.");
  const key = serverEnv().ENCRYPTION_KEY;
  const db = getDb();
  // "storing" until every document is in: indexing (which a status read may resume) starts only after.
  const row = await db.$transaction(async (tx) => {
    const created = await createListingRow(tx, creator, "dataset", fields, price);
    await tx.dataset.create({ data: { listingId: created.id, license: fields.license, embedder: BM25_RETRIEVER, status: "storing" } });
    return created;
  });
  let result;
  let listing;
  try {
    result = await storeUploadedDocuments(db, row.id, sources, key);
    if (result.stored === 0) {
      const code = result.refused.some((r) => /at most .*(MB|KB)|unpacks to|archive bomb/.test(r.message))
        ? "payload_too_large"
        : result.refused.some((r) => /not a supported document type|not UTF-8|binary data|is not a PDF/.test(r.message))
          ? "unsupported_media_type"
          : "bad_request";
      throw new AppError(code, `None of the documents can be used. ${result.refused.map((r) => r.message).join(" ")}`.slice(0, 4000), {
        files: result.refused,
      });
    }
    await finishStoredDocuments(db, row.id);
    await db.dataset.update({ where: { listingId: row.id }, data: { status: "indexing" } });
    listing = await db.$transaction(async (tx) => writeMetadata(tx, row, await metadataProperties(tx, row.id)), { timeout: 60_000 });
  } catch (error) {
    // Nothing half-made: the draft and everything under it go.
    await db.listing.delete({ where: { id: row.id } }).catch(() => undefined);
    throw error;
  }
  void startIndexing(listing.id, result.extracted);
  return { listing, refused: result.refused };
}

export async function createModelDraft(creator: Address, fields: ModelFields) {
  const price = await priceToBaseUnits(fields.price);
  const pricePerKInput = await priceToBaseUnits(fields.pricePerKInput, "pricePerKInput", "per 1,000 tokens");
  const pricePerKOutput = await priceToBaseUnits(fields.pricePerKOutput, "pricePerKOutput", "per 1,000 tokens");
  const key = serverEnv().ENCRYPTION_KEY;
  return getDb().$transaction(async (tx) => {
    const row = await createListingRow(tx, creator, "model", fields, price);
    const offline = fields.provider === "offline";
    await tx.modelEndpoint.create({
      data: {
        listingId: row.id,
        provider: fields.provider,
        baseUrl: offline ? null : fields.baseUrl,
        modelName: offline ? OFFLINE_MODEL_NAME : fields.modelName!,
        apiKeyEncrypted: !offline && fields.apiKey ? encryptString(fields.apiKey, key, modelApiKeyAad(row.id)) : null,
        embeddingsModel: offline ? null : (fields.embeddingsModel ?? null),
        pricePerKInput: pricePerKInput.toString(),
        pricePerKOutput: pricePerKOutput.toString(),
      },
    });
    return writeMetadata(tx, row, await metadataProperties(tx, row.id));
  });
}

export async function createAppDraft(creator: Address, fields: AppFields) {
  const price = await priceToBaseUnits(fields.price);
  const deployment = currentDeployment();
  const db = getDb();
  const onChain = { chainId: deployment.chainId, assets: deployment.assets, status: "listed" };
  const model = await db.listing.findFirst({ where: { id: fields.modelId, kind: "model", ...onChain } });
  if (!model) throw new AppError("bad_request", "Invalid request: modelId: pick a model that is listed in the marketplace.");
  const datasets = await db.listing.findMany({
    where: { id: { in: fields.datasetIds }, kind: "dataset", ...onChain },
    include: { dataset: { select: { status: true } } },
  });
  const missing = fields.datasetIds.filter((id) => !datasets.some((d) => d.id === id));
  if (missing.length) throw new AppError("bad_request", `Invalid request: datasetIds: ${missing.join(", ")} is not a listed dataset.`);
  const notReady = datasets.filter((d) => d.dataset?.status !== "ready");
  if (notReady.length) throw new AppError("conflict", `${notReady.map((d) => d.name).join(", ")} is not searchable yet.`);
  return db.$transaction(async (tx) => {
    const row = await createListingRow(tx, creator, "app", fields, price);
    await tx.app.create({
      data: {
        listingId: row.id,
        systemPrompt: fields.systemPrompt,
        topK: fields.topK,
        modelId: model.id,
        datasets: { create: fields.datasetIds.map((datasetId) => ({ datasetId })) },
      },
    });
    return writeMetadata(tx, row, await metadataProperties(tx, row.id));
  });
}

/** The listing if `address` created it; 404 for others (a draft's existence is nobody else's business). */
export async function ownedListing(id: string, address: Address) {
  const listing = await getDb().listing.findUnique({ where: { id } });
  if (!listing || listing.creator !== getAddress(address)) throw new AppError("not_found", "No such listing of yours.");
  return listing;
}

export type ConfirmResult = { status: "draft" | "pending" | "listed" | "failed"; slotId: number | null; failure: string | null };

/**
 * Check a listing transaction. Not mined yet: the draft becomes "pending" with its hash (a reload can
 * check again). Reverted: "failed". Mined: the AssetListed event must match the draft in every field.
 */
export async function confirmListing(id: string, address: Address, txHash: string): Promise<ConfirmResult> {
  if (!isHash(txHash)) throw new AppError("bad_request", "Invalid request: txHash: must be a 0x-prefixed 32-byte hash.");
  const db = getDb();
  const listing = await ownedListing(id, address);
  if (listing.status === "listed") {
    if (listing.listTxHash?.toLowerCase() === txHash.toLowerCase()) return { status: "listed", slotId: listing.slotId, failure: null };
    throw new AppError("conflict", "This listing is already on chain.");
  }
  const client = serverPublicClient();
  const receipt = await client.getTransactionReceipt({ hash: txHash }).catch((error: unknown) => {
    if (error instanceof Error && error.name === "TransactionReceiptNotFoundError") return null;
    throw new AppError("upstream_unavailable", "The chain cannot be reached right now; try again.", { cause: error });
  });
  const expected = listTransaction(listing);
  /** The transaction must be this creator's KipAssets.list call for this draft's URI. */
  const checkCall = async () => {
    const tx = await client.getTransaction({ hash: txHash }).catch(() => null);
    if (!tx) throw new AppError("not_found", "The chain does not know this transaction.");
    if (getAddress(tx.from) !== listing.creator) throw new AppError("forbidden", "This transaction was not sent by the listing's creator.");
    let call: ReturnType<typeof decodeFunctionData<typeof kipAssetsAbi>> | null = null;
    try {
      call = tx.to && getAddress(tx.to) === getAddress(listing.assets) ? decodeFunctionData({ abi: kipAssetsAbi, data: tx.input }) : null;
    } catch {
      call = null;
    }
    if (!call || call.functionName !== "list" || call.args[2] !== expected.uri) {
      throw new AppError("bad_request", "This transaction is not a KipAssets.list call for this draft.");
    }
  };
  if (!receipt) {
    await checkCall();
    await db.listing.update({ where: { id }, data: { status: "pending", listTxHash: txHash, failure: null } });
    return { status: "pending", slotId: null, failure: null };
  }
  if (getAddress(receipt.from) !== listing.creator) throw new AppError("forbidden", "This transaction was not sent by the listing's creator.");
  if (receipt.status !== "success") {
    await checkCall();
    const failure = "The listing transaction reverted on chain; nothing was listed. Try again.";
    await db.listing.update({ where: { id }, data: { status: "failed", listTxHash: txHash, failure } });
    return { status: "failed", slotId: null, failure };
  }
  const event = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs }).find(
    (log) => getAddress(log.address) === getAddress(listing.assets) && log.args.uri === expected.uri,
  );
  if (!event) throw new AppError("bad_request", "This transaction did not list this draft on the asset contract.");
  const { args } = event;
  const mismatches = [
    getAddress(args.creator) !== listing.creator && "creator",
    Number(args.kind) !== expected.kind && "kind",
    args.pricePerQuery.toString() !== listing.pricePerQuery && "price",
    args.contentHash.toLowerCase() !== listing.contentHash.toLowerCase() && "content hash",
  ].filter(Boolean);
  if (mismatches.length) {
    throw new AppError("bad_request", `The listed slot does not match this draft (${mismatches.join(", ")} differ). Discard the draft and list again.`);
  }
  const slotId = Number(args.slot);
  await db.listing.update({ where: { id }, data: { status: "listed", slotId, listTxHash: txHash, failure: null } });
  // A dataset's first version is what it was listed with (if its version row exists already).
  await db.datasetVersion.updateMany({ where: { datasetId: id, number: 1, onChainAt: null }, data: { onChainAt: new Date(), txHash } });
  return { status: "listed", slotId, failure: null };
}

/** Drafts and failed listings can be discarded; what is on chain (or may still land there) cannot. */
export async function discardListing(id: string, address: Address): Promise<void> {
  const listing = await ownedListing(id, address);
  if (listing.status === "listed") throw new AppError("conflict", "A listed asset cannot be discarded; deactivate it on chain instead.");
  if (listing.status === "pending") throw new AppError("conflict", "Its listing transaction is still pending; wait until it is mined or fails.");
  if (listing.kind === "model" || listing.kind === "dataset") {
    const used = await getDb().app.count({
      where: listing.kind === "model" ? { modelId: id } : { datasets: { some: { datasetId: id } } },
    });
    if (used) throw new AppError("conflict", "An app uses it.");
  }
  await getDb().listing.delete({ where: { id } });
}

/**
 * Edit a listing. A draft changes at once. A listed asset's description lives in its metadata, whose hash
 * is on chain: the new JSON is kept as a pending edit, the wallet sends setMetadata(slot, uri, newHash),
 * and syncListing applies it once the chain holds that hash. The price is read back from the chain the
 * same way after setPrice.
 */
export async function editListing(id: string, address: Address, edit: { description?: string; price?: string }) {
  const listing = await ownedListing(id, address);
  const db = getDb();
  if (listing.status === "pending") throw new AppError("conflict", "Its listing transaction is still pending.");
  const price = edit.price === undefined ? undefined : (await priceToBaseUnits(edit.price)).toString();
  if (listing.status === "draft" || listing.status === "failed") {
    return db.$transaction(async (tx) => {
      const updated = await tx.listing.update({
        where: { id },
        data: { description: edit.description ?? listing.description, pricePerQuery: price ?? listing.pricePerQuery },
      });
      return { listing: await writeMetadata(tx, updated, await metadataProperties(tx, id)), onChain: null };
    });
  }
  let metadata: { description: string; metadataJson: string; contentHash: string } | null = null;
  if (edit.description !== undefined && edit.description !== listing.description) {
    const { json, contentHash } = slotMetadataOf(listing, edit.description, await metadataProperties(db, id));
    metadata = { description: edit.description, metadataJson: json, contentHash };
    await db.listing.update({ where: { id }, data: { pendingEdit: JSON.stringify(metadata) } });
  }
  return {
    listing,
    onChain: {
      slot: listing.slotId,
      setPrice: price !== undefined && price !== listing.pricePerQuery ? { price } : null,
      setMetadata: metadata ? { uri: listingMetadataUri(serverEnv().APP_URL, id), contentHash: metadata.contentHash } : null,
    },
  };
}

/** After setPrice / setMetadata: read the slot from the chain and bring the database in line with it. */
export async function syncListing(id: string, address: Address, txHash?: string) {
  const listing = await ownedListing(id, address);
  if (listing.status !== "listed" || listing.slotId === null) throw new AppError("conflict", "Only a listed asset can be synced.");
  const client = serverPublicClient();
  if (txHash) {
    if (!isHash(txHash)) throw new AppError("bad_request", "Invalid request: txHash: must be a 0x-prefixed 32-byte hash.");
    const receipt = await client.waitForTransactionReceipt({ hash: txHash, timeout: 30_000 }).catch((error: unknown) => {
      throw new AppError("upstream_unavailable", "The transaction is not mined yet; try again.", { cause: error });
    });
    if (receipt.status !== "success") throw new AppError("bad_request", "The transaction reverted; nothing changed on chain.");
  }
  return applySlotState(listing, txHash);
}

/**
 * Read the slot from the chain and bring the listing in line with it: the price, and the pending edit
 * once the chain holds its hash (a dataset's version is then marked as on chain).
 */
async function applySlotState(listing: { id: string; assets: string; slotId: number | null; pendingEdit: string | null }, txHash?: string) {
  const info = await serverPublicClient().readContract({
    address: listing.assets as Address,
    abi: kipAssetsAbi,
    functionName: "slotInfo",
    args: [BigInt(listing.slotId!)],
  });
  const pending = listing.pendingEdit ? (JSON.parse(listing.pendingEdit) as { description: string; metadataJson: string; contentHash: string }) : null;
  const price = { pricePerQuery: info.pricePerQuery.toString() };
  const applied = pending && pending.contentHash.toLowerCase() === info.contentHash.toLowerCase();
  return getDb().$transaction(async (tx) => {
    if (!applied) return tx.listing.update({ where: { id: listing.id }, data: price });
    // Only while the edit is still the pending one (a newer version may have replaced it meanwhile).
    await tx.listing.updateMany({
      where: { id: listing.id, pendingEdit: listing.pendingEdit },
      data: { ...price, description: pending.description, metadataJson: pending.metadataJson, contentHash: pending.contentHash, pendingEdit: null },
    });
    const updated = await tx.listing.findUniqueOrThrow({ where: { id: listing.id } });
    if (updated.contentHash === pending.contentHash) {
      const version = (JSON.parse(pending.metadataJson) as { properties?: { version?: unknown } }).properties?.version;
      if (typeof version === "number") {
        await tx.datasetVersion.updateMany({
          where: { datasetId: listing.id, number: version, onChainAt: null },
          data: { onChainAt: new Date(), txHash: txHash ?? null },
        });
      }
    }
    return updated;
  });
}

/**
 * For anyone reading a listed dataset's versions: if an edit is pending, read the slot's content hash
 * from the chain (the creator may have sent setMetadata from anywhere) and apply the edit once it is there.
 */
export async function refreshPendingEdit(id: string): Promise<void> {
  const listing = await getDb().listing.findUnique({ where: { id } });
  if (!listing || listing.status !== "listed" || listing.slotId === null || !listing.pendingEdit) return;
  await applySlotState(listing);
}
