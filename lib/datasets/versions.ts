import "server-only";
// Datasets that grow: the creator of a listed dataset adds documents (through the same resumable
// uploads and archive reader as a new dataset) or removes one, and each change is a new version
// (DatasetVersion: its number, document set, content hash and date). Apps search the newest version
// at once: a version's change bumps the dataset's indexVersion, so every app server rebuilds its cached
// index on its next query (lib/rag/search.ts), and a removed document's passages are deleted. Added
// documents join the index only when the version that adds them is published, after they are indexed.
// Each version's slot metadata (with its content hash) waits as the listing's pending edit until the
// creator's wallet sends KipAssets.setMetadata and the server reads the slot holding its hash.
import { getAddress, type Address } from "viem";
import type { Db } from "@/lib/db-client";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import type { Prisma } from "@/lib/generated/prisma/client";
import { metadataProperties, refreshPendingEdit, slotMetadataOf } from "@/lib/listings/service";
import { datasetContentHash } from "@/lib/rag/ingest";
import { storeUploadedDocuments, type Refusal } from "@/lib/rag/ingest-uploads";
import { discardStaged, stagedFiles } from "@/lib/uploads/staging";
import { startIndexing } from "./indexer";
import { checkPairs, recomputeScorecard, type ScorecardPair } from "./scorecards";

type Tx = Prisma.TransactionClient;
type DocRef = { id: string; name: string };

/**
 * The dataset listing `id` if `address` created it. Anyone else gets 403 on a listed dataset (it is
 * public, the change is not theirs to make) and 404 on a draft (whose existence is nobody else's business).
 */
export async function creatorDataset(id: string, address: Address, { listed = true }: { listed?: boolean } = {}) {
  const listing = await getDb().listing.findUnique({ where: { id }, include: { dataset: true } });
  if (!listing?.dataset || (listing.creator !== getAddress(address) && listing.status !== "listed")) {
    throw new AppError("not_found", "No such dataset.");
  }
  if (listing.creator !== getAddress(address)) throw new AppError("forbidden", "Only the dataset's creator can change its documents.");
  if (listed && listing.status !== "listed") throw new AppError("conflict", "List the dataset on chain first: a draft keeps the documents it was made with.");
  return { ...listing, dataset: listing.dataset };
}

/** Version 1 for a dataset that has no version rows yet (listed before versions existed, or seeded). */
async function ensureFirstVersion(db: Db | Tx, datasetId: string): Promise<void> {
  if (await db.datasetVersion.count({ where: { datasetId } })) return;
  const listing = await db.listing.findUniqueOrThrow({ where: { id: datasetId }, include: { dataset: true } });
  const documents = await db.document.findMany({ where: { datasetId, removedInVersion: null, addedInVersion: 1 }, orderBy: { position: "asc" }, select: { id: true, filename: true } });
  await db.datasetVersion.createMany({
    data: [
      {
        datasetId,
        number: 1,
        contentHash: listing.dataset!.contentHash,
        documentCount: documents.length,
        addedJson: JSON.stringify(documents.map((d) => ({ id: d.id, name: d.filename }))),
        metadataJson: listing.metadataJson,
        metadataHash: listing.contentHash,
        onChainAt: listing.status === "listed" ? listing.updatedAt : null,
        txHash: listing.listTxHash,
        createdAt: listing.createdAt,
      },
    ],
    skipDuplicates: true,
  });
}

/**
 * Make version `number` current: its content hash over its documents, the search index invalidated,
 * the version row, and its slot metadata as the listing's pending edit (what the creator signs).
 */
async function publishVersion(tx: Tx, datasetId: string, number: number, added: DocRef[], removed: DocRef[]) {
  const documents = await tx.document.findMany({
    where: { datasetId, removedInVersion: null, addedInVersion: { lte: number } },
    orderBy: { position: "asc" },
    select: { sha256: true },
  });
  const contentHash = datasetContentHash(documents.map((d) => d.sha256));
  await tx.dataset.update({ where: { listingId: datasetId }, data: { version: number, contentHash, indexVersion: { increment: 1 } } });
  const listing = await tx.listing.findUniqueOrThrow({ where: { id: datasetId } });
  const pending = listing.pendingEdit ? (JSON.parse(listing.pendingEdit) as { description: string }) : null;
  // A description edit still waiting for its transaction is carried into the new version's metadata.
  const description = pending?.description ?? listing.description;
  const { json, contentHash: metadataHash } = slotMetadataOf(listing, description, await metadataProperties(tx, datasetId));
  await tx.datasetVersion.create({
    data: {
      datasetId,
      number,
      contentHash,
      documentCount: documents.length,
      addedJson: JSON.stringify(added),
      removedJson: JSON.stringify(removed),
      metadataJson: json,
      metadataHash,
    },
  });
  await tx.listing.update({ where: { id: datasetId }, data: { pendingEdit: JSON.stringify({ description, metadataJson: json, contentHash: metadataHash, version: number }) } });
}

/** After indexing: publish the version that adds the documents indexed since the current version. */
export async function publishPendingVersion(db: Db, datasetId: string): Promise<number | null> {
  const published = await db.$transaction(
    async (tx) => {
      await ensureFirstVersion(tx, datasetId);
      const dataset = await tx.dataset.findUniqueOrThrow({ where: { listingId: datasetId }, select: { version: true } });
      const pending = await tx.document.findMany({
        // Only indexed ones: an addition that started after this indexing run is published by its own.
        where: { datasetId, removedInVersion: null, addedInVersion: { gt: dataset.version }, indexedAt: { not: null } },
        orderBy: { position: "asc" },
        select: { id: true, filename: true },
      });
      if (pending.length === 0) return null;
      const number = dataset.version + 1;
      // Claim the number (the row lock orders this against a concurrent removal).
      const claimed = await tx.dataset.updateMany({ where: { listingId: datasetId, version: dataset.version }, data: { version: number } });
      if (claimed.count === 0) throw new AppError("conflict", "The dataset changed meanwhile.");
      await tx.document.updateMany({ where: { id: { in: pending.map((d) => d.id) } }, data: { addedInVersion: number } });
      await publishVersion(tx, datasetId, number, pending.map((d) => ({ id: d.id, name: d.filename })), []);
      return number;
    },
    { timeout: 60_000 },
  );
  if (published !== null) void recomputeScorecard(db, datasetId).catch((error) => console.error(`scorecard of ${datasetId} failed`, error));
  return published;
}

/**
 * Add documents from finished resumable uploads (files and archives) to a listed dataset. They are
 * stored and indexed in the background; the version that adds them is published when indexing ends.
 * Documents that cannot be used are refused one by one, like at creation; when none can, nothing changes.
 */
export async function addDocuments(id: string, address: Address, uploadIds: readonly string[]): Promise<{ refused: Refusal[]; stored: number; version: number }> {
  await creatorDataset(id, address);
  const db = getDb();
  const staged = await stagedFiles(address, uploadIds);
  // One change at a time: "storing" is the dataset's lock while the documents go in. A dataset whose last
  // addition failed to index may take a new one: the failed addition's documents are dropped first.
  const claimed = await db.dataset.updateMany({ where: { listingId: id, status: { in: ["ready", "failed"] } }, data: { status: "storing" } });
  if (claimed.count === 0) throw new AppError("conflict", "The dataset is still taking in or indexing documents; try again when it is ready.");
  try {
    const dataset = await db.dataset.findUniqueOrThrow({ where: { listingId: id }, select: { version: true } });
    await dropUnpublished(db, id, dataset.version);
    const [current, last] = await Promise.all([
      db.document.findMany({ where: { datasetId: id, removedInVersion: null }, select: { filename: true, bytes: true } }),
      db.document.aggregate({ where: { datasetId: id }, _max: { position: true } }),
    ]);
    const result = await storeUploadedDocuments(db, id, staged, serverEnv().ENCRYPTION_KEY, undefined, {
      names: new Set(current.map((d) => d.filename)),
      count: current.length,
      bytes: current.reduce((sum, d) => sum + d.bytes, 0),
      firstPosition: (last._max.position ?? -1) + 1,
    });
    if (result.stored === 0) {
      throw new AppError("bad_request", `None of the documents can be used. ${result.refused.map((r) => r.message).join(" ")}`.slice(0, 4000), { files: result.refused });
    }
    const next = dataset.version + 1;
    const added = await db.document.findMany({ where: { datasetId: id, indexedAt: null }, select: { bytes: true } });
    await db.document.updateMany({ where: { datasetId: id, indexedAt: null }, data: { addedInVersion: next } });
    await db.dataset.update({ where: { listingId: id }, data: { status: "indexing", error: null, bytesTotal: { increment: added.reduce((sum, d) => sum + d.bytes, 0) } } });
    await discardStaged(address, uploadIds);
    void startIndexing(id, result.extracted);
    return { refused: result.refused, stored: result.stored, version: next };
  } catch (error) {
    // Nothing half-added: the documents stored by this request go, and the dataset is as it was.
    await db.document.deleteMany({ where: { datasetId: id, indexedAt: null } }).catch(() => undefined);
    await db.dataset.update({ where: { listingId: id }, data: { status: "ready" } }).catch(() => undefined);
    throw error;
  }
}

/** Drop documents no version holds yet (an addition that failed to index), and recount the dataset's totals. */
async function dropUnpublished(db: Db, datasetId: string, version: number): Promise<void> {
  const dropped = await db.document.deleteMany({ where: { datasetId, addedInVersion: { gt: version } } });
  if (dropped.count === 0) return;
  const [all, indexed, chunkCount] = await Promise.all([
    db.document.aggregate({ where: { datasetId, removedInVersion: null }, _sum: { bytes: true } }),
    db.document.aggregate({ where: { datasetId, removedInVersion: null, indexedAt: { not: null } }, _sum: { bytes: true } }),
    db.chunk.count({ where: { datasetId } }),
  ]);
  await db.dataset.update({ where: { listingId: datasetId }, data: { bytesTotal: all._sum.bytes ?? 0, bytesIndexed: indexed._sum.bytes ?? 0, chunkCount, indexVersion: { increment: 1 } } });
}

/** Remove one document of the current version: a new version without it; its passages are deleted. */
export async function removeDocument(id: string, address: Address, documentId: string): Promise<{ version: number }> {
  await creatorDataset(id, address);
  const db = getDb();
  const version = await db.$transaction(
    async (tx) => {
      await ensureFirstVersion(tx, id);
      const dataset = await tx.dataset.findUniqueOrThrow({ where: { listingId: id }, select: { version: true, status: true } });
      if (dataset.status !== "ready") throw new AppError("conflict", "The dataset is still taking in or indexing documents; try again when it is ready.");
      const document = await tx.document.findFirst({
        where: { id: documentId, datasetId: id, removedInVersion: null, addedInVersion: { lte: dataset.version } },
        select: { id: true, filename: true, bytes: true },
      });
      if (!document) throw new AppError("not_found", "No such document in the dataset's current version.");
      const adding = await tx.document.count({ where: { datasetId: id, removedInVersion: null, addedInVersion: { gt: dataset.version } } });
      if (adding) throw new AppError("conflict", "Documents being added are not published yet; try again in a moment.");
      const remaining = await tx.document.count({ where: { datasetId: id, removedInVersion: null } });
      if (remaining <= 1) throw new AppError("conflict", "A dataset keeps at least one document: add another before removing this one.");
      const number = dataset.version + 1;
      const claimed = await tx.dataset.updateMany({ where: { listingId: id, version: dataset.version, status: "ready" }, data: { version: number } });
      if (claimed.count === 0) throw new AppError("conflict", "The dataset changed meanwhile; reload and try again.");
      await tx.document.update({ where: { id: document.id }, data: { removedInVersion: number } });
      const chunks = await tx.chunk.deleteMany({ where: { documentId: document.id } });
      await tx.dataset.update({
        where: { listingId: id },
        data: { chunkCount: { decrement: chunks.count }, bytesTotal: { decrement: document.bytes }, bytesIndexed: { decrement: document.bytes } },
      });
      await publishVersion(tx, id, number, [], [{ id: document.id, name: document.filename }]);
      return number;
    },
    { timeout: 60_000 },
  );
  void recomputeScorecard(db, id).catch((error) => console.error(`scorecard of ${id} failed`, error));
  return { version };
}

export type VersionStatus = "on chain" | "pending" | "superseded" | "draft";

export interface VersionView {
  number: number;
  contentHash: string;
  metadataHash: string;
  documents: number;
  added: DocRef[];
  removed: DocRef[];
  createdAt: string;
  status: VersionStatus;
  onChainAt: string | null;
  txHash: string | null;
}

/** A dataset's versions, newest first, with their on-chain status (the chain is read while one is pending). */
export async function datasetVersions(id: string): Promise<{ current: number; pending: { version: number; contentHash: string } | null; versions: VersionView[] }> {
  const db = getDb();
  await refreshPendingEdit(id).catch((error) => console.error(`reading slot of ${id} failed`, error));
  const listing = await db.listing.findUniqueOrThrow({ where: { id }, include: { dataset: { select: { version: true } } } });
  await ensureFirstVersion(db, id);
  const rows = await db.datasetVersion.findMany({ where: { datasetId: id }, orderBy: { number: "desc" } });
  const newestOnChain = rows.find((r) => r.onChainAt || r.metadataHash.toLowerCase() === listing.contentHash.toLowerCase())?.number ?? 0;
  const pendingEdit = listing.pendingEdit ? (JSON.parse(listing.pendingEdit) as { contentHash: string; version?: number }) : null;
  return {
    current: listing.dataset?.version ?? 1,
    pending: pendingEdit?.version !== undefined ? { version: pendingEdit.version, contentHash: pendingEdit.contentHash } : null,
    versions: rows.map((r) => ({
      number: r.number,
      contentHash: r.contentHash,
      metadataHash: r.metadataHash,
      documents: r.documentCount,
      added: JSON.parse(r.addedJson) as DocRef[],
      removed: JSON.parse(r.removedJson) as DocRef[],
      createdAt: r.createdAt.toISOString(),
      status:
        listing.status !== "listed"
          ? "draft"
          : r.onChainAt || r.metadataHash.toLowerCase() === listing.contentHash.toLowerCase()
            ? "on chain"
            : r.number < newestOnChain
              ? "superseded"
              : "pending",
      onChainAt: r.onChainAt?.toISOString() ?? null,
      txHash: r.txHash,
    })),
  };
}

/** Attach question/document pairs to the owner's dataset and measure its retrieval on them again. */
export async function addScorecardPairs(id: string, address: Address, pairs: readonly ScorecardPair[]) {
  await creatorDataset(id, address, { listed: false });
  const db = getDb();
  const [documents, existing] = await Promise.all([
    db.document.findMany({ where: { datasetId: id, removedInVersion: null }, select: { filename: true } }),
    db.scorecardQuestion.count({ where: { datasetId: id } }),
  ]);
  checkPairs(pairs, new Set(documents.map((d) => d.filename)), existing);
  await db.scorecardQuestion.createMany({ data: pairs.map((p) => ({ datasetId: id, question: p.question, expectedDocument: p.document })) });
  return recomputeScorecard(db, id);
}

/** Remove one of the owner's scorecard questions and measure again. */
export async function removeScorecardQuestion(id: string, address: Address, questionId: string) {
  await creatorDataset(id, address, { listed: false });
  const db = getDb();
  const removed = await db.scorecardQuestion.deleteMany({ where: { id: questionId, datasetId: id } });
  if (removed.count === 0) throw new AppError("not_found", "No such question in this dataset's scorecard.");
  return recomputeScorecard(db, id);
}
