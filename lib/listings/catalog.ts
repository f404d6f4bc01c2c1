import "server-only";
// The marketplace catalogue: listed assets of this deployment, searched with BM25 over name,
// description, tags and kind (an index rebuilt only when a listing changes), filtered by kind and sorted
// by newest, price or use (queries served, read from the chain's settled receipts). Listings that hold
// the query's words come first; after them, those whose words only come close to the query's (a prefix
// such as "postgres" for "PostgreSQL", or a typo), by pg_trgm's word similarity.
import { getAddress, type Address } from "viem";
import type { Deployment } from "@/lib/chain/deployment";
import { getDb } from "@/lib/db";
import { Bm25Index } from "@/lib/rag/bm25";
import { figuresBySlot, type SlotFigures } from "@/lib/listings/chain-stats";
import { serverPublicClient } from "@/lib/chain/server-client";
import { listingMetadataUri } from "@/lib/listings/metadata";
import { listTransaction } from "@/lib/listings/service";
import { serverEnv } from "@/lib/env";
import type { Listing } from "@/lib/generated/prisma/client";

import { KINDS, type Sort } from "@/lib/listings/catalog-query";

export interface CatalogQuery {
  q?: string;
  kind?: (typeof KINDS)[number];
  sort?: Sort;
  creator?: Address;
  limit?: number;
  offset?: number;
}

export interface ListingSummary {
  id: string;
  kind: string;
  name: string;
  description: string;
  tags: string[];
  creator: string;
  pricePerQuery: string;
  slotId: number | null;
  status: string;
  createdAt: string;
  /** Settled queries that charged this slot (from the chain); null when the chain could not be read. */
  queries: number | null;
  /** BM25 score when searched. */
  score?: number;
}

const MAX_CATALOG = 5000;

type CatalogRow = Pick<Listing, "id" | "kind" | "name" | "description" | "tags" | "creator" | "pricePerQuery" | "slotId" | "status" | "createdAt" | "updatedAt">;

let searchCache: { key: string; rows: CatalogRow[]; index: Bm25Index } | undefined;

async function listedRows(deployment: Deployment): Promise<{ rows: CatalogRow[]; index: Bm25Index }> {
  const db = getDb();
  const where = { chainId: deployment.chainId, assets: deployment.assets, status: "listed" };
  const stamp = await db.listing.aggregate({ where, _count: { _all: true }, _max: { updatedAt: true } });
  const key = `${deployment.chainId}:${deployment.assets}:${stamp._count._all}:${stamp._max.updatedAt?.getTime() ?? 0}`;
  if (searchCache?.key !== key) {
    const rows = await db.listing.findMany({
      where,
      orderBy: { createdAt: "desc" },
      take: MAX_CATALOG,
      select: { id: true, kind: true, name: true, description: true, tags: true, creator: true, pricePerQuery: true, slotId: true, status: true, createdAt: true, updatedAt: true },
    });
    // The name counts twice: a query naming an asset should find it first.
    const index = new Bm25Index(rows.map((row) => `${row.name} ${row.name} ${(JSON.parse(row.tags) as string[]).join(" ")} ${row.kind} ${row.description}`));
    searchCache = { key, rows, index };
  }
  return searchCache;
}

/** How close a listing's words must come to the query's (pg_trgm word similarity, 0 to 1). */
export const NEAR_MATCH_SIMILARITY = 0.5;

/** Listed assets whose name, tags, kind or description has words close to `text`, closest first. */
async function similarListings(deployment: Deployment, text: string): Promise<string[]> {
  const rows = await getDb().$queryRaw<{ id: string }[]>`
    SELECT "id" FROM (
      SELECT "id", "createdAt", word_similarity(${text}, "name" || ' ' || "tags" || ' ' || "kind" || ' ' || "description") AS similarity
      FROM "Listing" WHERE "chainId" = ${deployment.chainId}::int AND "assets" = ${deployment.assets} AND "status" = 'listed'
    ) AS scored
    WHERE similarity >= ${NEAR_MATCH_SIMILARITY}::float8
    ORDER BY similarity DESC, "createdAt" DESC
    LIMIT ${MAX_CATALOG}::int`;
  return rows.map((row) => row.id);
}

function summary(row: CatalogRow, queries: number | null, score?: number): ListingSummary {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    description: row.description,
    tags: JSON.parse(row.tags) as string[],
    creator: row.creator,
    pricePerQuery: row.pricePerQuery,
    slotId: row.slotId,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    queries,
    ...(score !== undefined ? { score } : {}),
  };
}

export async function searchCatalog(deployment: Deployment, query: CatalogQuery): Promise<{ total: number; listings: ListingSummary[]; usageError: boolean }> {
  const { rows, index } = await listedRows(deployment);
  let chain: Map<number, SlotFigures> | null = null;
  let usageError = false;
  try {
    chain = await figuresBySlot({ db: getDb(), client: serverPublicClient(), deployment });
  } catch (error) {
    console.error("could not read the protocol's events", error);
    usageError = true;
  }
  const queriesOf = (row: CatalogRow) => (chain ? (row.slotId !== null ? (chain.get(row.slotId)?.queries ?? 0) : 0) : null);
  // The slot's price on chain when it could be read; the database's copy otherwise.
  const onChainPrice = (row: CatalogRow) => (row.slotId !== null ? chain?.get(row.slotId)?.pricePerQuery : undefined);
  const current = rows.map((row) => {
    const price = onChainPrice(row);
    return price === undefined ? row : { ...row, pricePerQuery: price.toString() };
  });

  let matches: { row: CatalogRow; score?: number }[];
  const text = query.q?.trim();
  if (text) {
    matches = index.search(text, rows.length).map((hit) => ({ row: current[hit.index], score: hit.score }));
    const found = new Set(matches.map((m) => m.row.id));
    const position = new Map(rows.map((row, i) => [row.id, i]));
    for (const id of await similarListings(deployment, text)) {
      const i = position.get(id);
      if (i !== undefined && !found.has(id)) matches.push({ row: current[i], score: 0 });
    }
  } else {
    matches = current.map((row) => ({ row }));
  }
  if (query.kind) matches = matches.filter((m) => m.row.kind === query.kind);
  if (query.creator) {
    const creator = getAddress(query.creator);
    matches = matches.filter((m) => m.row.creator === creator);
  }
  const price = (row: CatalogRow) => BigInt(row.pricePerQuery);
  const newest = (a: CatalogRow, b: CatalogRow) => b.createdAt.getTime() - a.createdAt.getTime();
  switch (query.sort) {
    case "price-asc":
      matches.sort((a, b) => (price(a.row) === price(b.row) ? newest(a.row, b.row) : price(a.row) < price(b.row) ? -1 : 1));
      break;
    case "price-desc":
      matches.sort((a, b) => (price(a.row) === price(b.row) ? newest(a.row, b.row) : price(a.row) > price(b.row) ? -1 : 1));
      break;
    case "most-used":
      matches.sort((a, b) => (queriesOf(b.row) ?? 0) - (queriesOf(a.row) ?? 0) || newest(a.row, b.row));
      break;
    case "newest":
      matches.sort((a, b) => newest(a.row, b.row));
      break;
    default:
      // Searched: best match first; otherwise newest first (the rows' order).
      break;
  }
  const offset = query.offset ?? 0;
  const limit = query.limit ?? 60;
  return {
    total: matches.length,
    listings: matches.slice(offset, offset + limit).map((m) => summary(m.row, queriesOf(m.row), m.score)),
    usageError,
  };
}

/** The public view of one listing (no API keys, no system prompt, no document contents). */
export async function publicListing(id: string) {
  const listing = await getDb().listing.findUnique({
    where: { id },
    include: {
      dataset: {
        include: {
          // The documents of the newest version (and, while they are indexed, those it is adding)
          documents: { where: { removedInVersion: null }, select: { filename: true, mimeType: true, bytes: true, sha256: true }, orderBy: { position: "asc" } },
        },
      },
      model: { select: { provider: true, modelName: true, embeddingsModel: true, pricePerKInput: true, pricePerKOutput: true } },
      app: {
        select: {
          topK: true,
          model: { select: { listing: { select: { id: true, name: true, pricePerQuery: true, slotId: true, status: true, creator: true } } } },
          datasets: { select: { dataset: { select: { listing: { select: { id: true, name: true, pricePerQuery: true, slotId: true, status: true, creator: true } } } } } },
        },
      },
    },
  });
  if (!listing) return null;
  return {
    id: listing.id,
    kind: listing.kind,
    name: listing.name,
    description: listing.description,
    tags: JSON.parse(listing.tags) as string[],
    creator: listing.creator,
    pricePerQuery: listing.pricePerQuery,
    status: listing.status,
    slotId: listing.slotId,
    chainId: listing.chainId,
    assets: listing.assets,
    metadataUri: listingMetadataUri(serverEnv().APP_URL, listing.id),
    contentHash: listing.contentHash,
    listTxHash: listing.listTxHash,
    failure: listing.failure,
    createdAt: listing.createdAt.toISOString(),
    dataset: listing.dataset
      ? {
          status: listing.dataset.status,
          license: listing.dataset.license,
          embedder: listing.dataset.embedder,
          contentHash: listing.dataset.contentHash,
          version: listing.dataset.version,
          bytesTotal: listing.dataset.bytesTotal,
          bytesIndexed: listing.dataset.bytesIndexed,
          chunkCount: listing.dataset.chunkCount,
          error: listing.dataset.error,
          documents: listing.dataset.documents.map((d) => ({ filename: d.filename, mimeType: d.mimeType, bytes: d.bytes, sha256: d.sha256 })),
        }
      : null,
    model: listing.model,
    app: listing.app
      ? { topK: listing.app.topK, model: listing.app.model.listing, datasets: listing.app.datasets.map((d) => d.dataset.listing) }
      : null,
  };
}

export type PublicListing = NonNullable<Awaited<ReturnType<typeof publicListing>>>;

/**
 * A listing as its creator sees it: also drafts, the transaction still to send, the model's endpoint
 * (never its key: only whether one is stored), the app's system prompt, and the dataset's document ids.
 */
export async function ownerListing(id: string, address: Address) {
  const view = await publicListing(id);
  if (!view || view.creator !== getAddress(address)) return null;
  const db = getDb();
  const [row, model, app, documents] = await Promise.all([
    db.listing.findUniqueOrThrow({ where: { id }, select: { pendingEdit: true } }),
    view.model ? db.modelEndpoint.findUnique({ where: { listingId: id }, select: { baseUrl: true, apiKeyEncrypted: true } }) : null,
    view.app ? db.app.findUnique({ where: { listingId: id }, select: { systemPrompt: true } }) : null,
    view.dataset ? db.document.findMany({ where: { datasetId: id, removedInVersion: null }, orderBy: { position: "asc" }, select: { id: true, indexedAt: true } }) : null,
  ]);
  return {
    ...view,
    transaction: view.status === "listed" ? null : listTransaction(view),
    pendingEdit: row.pendingEdit ? (JSON.parse(row.pendingEdit) as { description: string; contentHash: string; version?: number }) : null,
    model: view.model ? { ...view.model, baseUrl: model?.baseUrl ?? null, hasApiKey: Boolean(model?.apiKeyEncrypted) } : null,
    app: view.app ? { ...view.app, systemPrompt: app?.systemPrompt ?? "" } : null,
    dataset: view.dataset
      ? {
          ...view.dataset,
          documents: view.dataset.documents.map((d, i) => ({ ...d, id: documents?.[i]?.id ?? "", indexed: documents?.[i]?.indexedAt != null })),
        }
      : null,
  };
}

export type OwnerListing = NonNullable<Awaited<ReturnType<typeof ownerListing>>>;
