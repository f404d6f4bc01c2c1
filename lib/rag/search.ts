// Retrieval over datasets: one BM25 index per dataset, built from its chunks on first use and kept in
// this process's memory until the dataset's indexVersion in the database changes (ingestion bumps it, on
// whichever app server it runs). The versions are read on every query, one statement for all datasets (a
// paid question's admission reads them in its own statement and hands them in), so a document indexed
// through one server is searched by every other from its next query on. The
// documents' file names and titles are kept beside the index (they cannot change within one version), so
// a query's sources need no further read. Only the documents of the dataset's current version are indexed
// (lib/datasets/versions.ts: a version's change bumps indexVersion too), and each passage names it.
//
// Each chunk is indexed with its heading as a field of its own, which weighs more than the body (see
// Bm25Index): the document's title, its lead (the opening sentence, which on a reference page says what
// the page is for: "pg_isready — check the connection status of a PostgreSQL server") and the chunk's
// section path. The lead is taken from the document's first chunk, so an index built while ingesting and
// one loaded from the database agree. The innermost heading of the path is also the passage's own heading,
// which names what a definition list's entry defines (Bm25Index: definitions).
//
// Document evidence: a passage is more likely what the question is about when other passages of its
// document match the question too (the page on ALTER TABLE against the one passage of another page that
// happens to say "add a column"). A document's passages among the candidates are scaled alike, so that
// its best one gains DOCUMENT_EVIDENCE times its next DOCUMENT_EVIDENCE_PASSAGES best (withDocumentEvidence);
// a passage with no fellow matches keeps its score.
import type { Db } from "@/lib/db-client";
import type { ChunkRow } from "./bulk";
import { Bm25Builder, Bm25Index, searchIndexes, type IndexedText } from "./bm25";
import { SECTION_SEPARATOR } from "./citation";

export interface RetrievedChunk {
  chunkId: string;
  datasetId: string;
  documentId: string;
  documentName: string;
  /** The document's own title ("" when it has none, or was stored before titles were kept). */
  documentTitle: string;
  /** The chunk's section path, outermost first (empty when the document has no headings). */
  section: string[];
  /** 1-based page of a PDF. */
  page: number | null;
  position: number;
  text: string;
  score: number;
  /** The dataset version the passage was retrieved from. */
  datasetVersion: number;
}

/** Weight of a document's further matching passages in its passages' scores. */
export const DOCUMENT_EVIDENCE = 0.6;
/** How many of a document's passages after its best count as its evidence. */
export const DOCUMENT_EVIDENCE_PASSAGES = 3;
/** Passages ranked per dataset that document evidence is gathered from (at least k). */
export const DOCUMENT_CANDIDATES = 100;

/**
 * Every passage's score times its document's factor, 1 + DOCUMENT_EVIDENCE × (the sum of the document's
 * next DOCUMENT_EVIDENCE_PASSAGES best scores) / (its best score), best first (ties keep their order). A
 * document's best passage gains DOCUMENT_EVIDENCE times its next best ones; its other passages gain in
 * proportion, so they keep their order and a weak passage of a good page does not pass a strong one of
 * another page. Documents are told apart by dataset and document id.
 */
export function withDocumentEvidence<T extends { datasetId: string; documentId: string; score: number }>(hits: readonly T[]): T[] {
  const byDocument = new Map<string, number[]>();
  const keyOf = (hit: T) => `${hit.datasetId}\u0000${hit.documentId}`;
  for (const hit of hits) {
    const scores = byDocument.get(keyOf(hit));
    if (scores) scores.push(hit.score);
    else byDocument.set(keyOf(hit), [hit.score]);
  }
  const factor = new Map<string, number>();
  for (const [key, scores] of byDocument) {
    scores.sort((x, y) => y - x);
    let evidence = 0;
    for (let i = 1; i <= DOCUMENT_EVIDENCE_PASSAGES && i < scores.length; i++) evidence += scores[i];
    factor.set(key, scores[0] > 0 ? 1 + (DOCUMENT_EVIDENCE * evidence) / scores[0] : 1);
  }
  return hits.map((hit) => ({ ...hit, score: hit.score * factor.get(keyOf(hit))! })).sort((a, b) => b.score - a.score);
}

/** A chunk as stored (its section path joined by SECTION_SEPARATOR), which is what the index is built from. */
export type IndexedChunk = ChunkRow;

export interface DocumentLabel {
  filename: string;
  title: string;
  /** The document's opening sentence (documentLead of its first chunk); absent until its chunks are known. */
  lead?: string;
}

/** Longest lead kept, in characters (cut at a word boundary). */
export const LEAD_CHARS = 200;

/** A document's lead: the first sentence of its first chunk's text, at most LEAD_CHARS characters. */
export function documentLead(firstChunkText: string): string {
  const sentence = firstChunkText.trim().split(/(?<=[.!?。！？])\s/u)[0] ?? "";
  if (sentence.length <= LEAD_CHARS) return sentence;
  const cut = sentence.slice(0, LEAD_CHARS);
  const space = cut.lastIndexOf(" ");
  return space > 0 ? cut.slice(0, space) : cut;
}

/** A document's label with its lead, from its first chunk (position 0), when it has one. */
export function withLead(label: DocumentLabel, firstChunk: IndexedChunk | undefined): DocumentLabel {
  return firstChunk ? { ...label, lead: documentLead(firstChunk.text) } : label;
}

/** `documents` with each one's lead, from its chunk at position 0 among `chunks`. */
export function withLeads(chunks: readonly IndexedChunk[], documents: ReadonlyMap<string, DocumentLabel>): Map<string, DocumentLabel> {
  const labelled = new Map(documents);
  for (const chunk of chunks) {
    const label = labelled.get(chunk.documentId);
    if (chunk.position === 0 && label) labelled.set(chunk.documentId, withLead(label, chunk));
  }
  return labelled;
}

interface CachedIndex {
  version: number;
  /** The dataset version (Dataset.version) the index holds. */
  datasetVersion: number;
  index: Bm25Index;
  chunks: IndexedChunk[];
  /** File names and titles of the dataset's documents, by id. */
  documents: Map<string, DocumentLabel>;
}

/**
 * What a chunk is indexed by: its body, and its heading (the document's title, its lead and the section
 * path) as a field. `documents` must carry the leads (withLeads).
 */
export function chunkPassage(chunk: IndexedChunk, documents: ReadonlyMap<string, DocumentLabel>): IndexedText {
  const section = chunk.section ? chunk.section.split(SECTION_SEPARATOR) : [];
  return { text: chunk.text, heading: headingOf(documents.get(chunk.documentId), chunk.section), ownHeading: section.at(-1) };
}

/** The index of a dataset's chunks (see chunkPassage), in their order. */
export function buildChunkIndex(chunks: readonly IndexedChunk[], documents: ReadonlyMap<string, DocumentLabel>): Bm25Index {
  const labelled = withLeads(chunks, documents);
  return new Bm25Index(chunks.map((chunk) => chunkPassage(chunk, labelled)));
}

function headingOf(document: DocumentLabel | undefined, section: string): string {
  // A title that is only the file name (a document with no title of its own) says nothing of its content.
  const title = document && document.title !== document.filename ? document.title : "";
  // The section path of a structured page already holds its title.
  const heading = section.includes(title) ? section : `${title}\n${section}`;
  return document?.lead ? `${heading}\n${document.lead}` : heading;
}

const cache = new Map<string, { version: number; index: Promise<CachedIndex> }>();

async function loadIndex(db: Db, datasetId: string, version: number, datasetVersion: number): Promise<CachedIndex> {
  const [chunks, rows] = await Promise.all([
    db.chunk.findMany({
      // Documents a newer version is adding are left out until that version is published.
      where: { datasetId, document: { addedInVersion: { lte: datasetVersion } } },
      select: { id: true, documentId: true, position: true, text: true, section: true, page: true },
      // The dataset's order (documents by position, then their chunks), which is the order ingestion
      // indexes them in: an index built there and one loaded here number the passages alike.
      orderBy: [{ document: { position: "asc" } }, { position: "asc" }],
    }),
    db.document.findMany({ where: { datasetId }, select: { id: true, filename: true, title: true } }),
  ]);
  const documents = new Map(rows.map((d) => [d.id, { filename: d.filename, title: d.title }]));
  return { version, datasetVersion, index: buildChunkIndex(chunks, documents), chunks, documents };
}

/** A dataset's index version (Dataset.indexVersion) and dataset version (Dataset.version). */
export type IndexVersions = { version: number; datasetVersion: number };
type Versions = IndexVersions;

/** The current index and dataset versions of `datasetIds`, in one query. */
async function indexVersions(db: Db, datasetIds: readonly string[]): Promise<Map<string, Versions>> {
  const rows = await db.dataset.findMany({ where: { listingId: { in: [...datasetIds] } }, select: { listingId: true, indexVersion: true, version: true } });
  return new Map(rows.map((r) => [r.listingId, { version: r.indexVersion, datasetVersion: r.version }]));
}

function cachedIndex(db: Db, datasetId: string, versions: Versions | undefined): Promise<CachedIndex> {
  if (versions === undefined) throw new Error(`no dataset ${datasetId}`);
  const { version, datasetVersion } = versions;
  const cached = cache.get(datasetId);
  if (cached?.version === version) return cached.index;
  const loading = loadIndex(db, datasetId, version, datasetVersion);
  cache.set(datasetId, { version, index: loading });
  loading.catch(() => {
    if (cache.get(datasetId)?.index === loading) cache.delete(datasetId);
  });
  return loading;
}

/** The dataset's index, rebuilt only when its indexVersion moved. Concurrent callers share one build. */
export async function datasetIndex(db: Db, datasetId: string): Promise<CachedIndex> {
  return cachedIndex(db, datasetId, (await indexVersions(db, [datasetId])).get(datasetId));
}

/** A passage ranked across several indexes: which index (`part`), the chunk, and its score. */
export interface RankedPassage {
  part: number;
  chunk: IndexedChunk;
  score: number;
}

/**
 * The chat's ranking of `query` over several datasets' indexes (each with its chunks, in index order): the
 * indexes are searched as one (searchIndexes: the statistics of all of them together, and one pool of
 * candidates for the proximity bonus), as one index over all their passages would rank them; document
 * evidence is applied to the DOCUMENT_CANDIDATES best. Top k, best first.
 */
export function rankAcross(parts: readonly { index: Bm25Index; chunks: readonly IndexedChunk[] }[], query: string, k: number): RankedPassage[] {
  const hits = searchIndexes(
    parts.map((p) => p.index),
    query,
    Math.max(k, DOCUMENT_CANDIDATES),
  ).map(({ part, index, score }) => {
    const chunk = parts[part].chunks[index];
    return { part, datasetId: String(part), documentId: chunk.documentId, chunk, score };
  });
  return withDocumentEvidence(hits)
    .slice(0, k)
    .map(({ part, chunk, score }) => ({ part, chunk, score }));
}

/**
 * Top-k chunks for `query` across `datasetIds`, best first (rankAcross). `versions`: the datasets' versions
 * when the caller has just read them (a paid question's admission reads them in its statement), else
 * they are read here.
 */
export async function searchDatasets(
  db: Db,
  datasetIds: readonly string[],
  query: string,
  k: number,
  versions?: ReadonlyMap<string, IndexVersions>,
): Promise<RetrievedChunk[]> {
  const known = versions ?? (await indexVersions(db, datasetIds));
  const loaded = await Promise.all(datasetIds.map((datasetId) => cachedIndex(db, datasetId, known.get(datasetId))));
  return rankAcross(loaded, query, k).map(({ part, chunk, score }): RetrievedChunk => {
    const { documents, datasetVersion } = loaded[part];
    const document = documents.get(chunk.documentId);
    return {
      chunkId: chunk.id,
      datasetId: datasetIds[part],
      documentId: chunk.documentId,
      documentName: document?.filename ?? "document",
      documentTitle: document && document.title !== document.filename ? document.title : "",
      section: chunk.section ? chunk.section.split(SECTION_SEPARATOR) : [],
      page: chunk.page,
      position: chunk.position,
      text: chunk.text,
      score,
      datasetVersion,
    };
  });
}

/**
 * Cache an index built from chunks already in memory (ingestion has just written them), so the dataset's
 * first query does not read them back. `chunks` must be all of the dataset's chunks at `version` in the
 * dataset's order (see loadIndex), and `documents` its documents' names and titles; `builder`, when
 * given, holds exactly those chunks' passages (chunkPassage), added in that order. Ingestion primes only
 * a dataset's first full indexing, which is its version 1.
 */
export function primeDatasetIndex(
  datasetId: string,
  version: number,
  chunks: IndexedChunk[],
  documents: Map<string, DocumentLabel>,
  { datasetVersion = 1, builder }: { datasetVersion?: number; builder?: Bm25Builder } = {},
): void {
  if (builder && builder.size !== chunks.length) throw new Error(`the index builder holds ${builder.size} passages, not the ${chunks.length} chunks`);
  const index = builder ? new Bm25Index(builder) : buildChunkIndex(chunks, documents);
  cache.set(datasetId, { version, index: Promise.resolve({ version, datasetVersion, index, chunks, documents }) });
}

/** Drop cached indexes (tests, or after deleting a dataset). */
export function clearSearchCache(datasetId?: string): void {
  if (datasetId) cache.delete(datasetId);
  else cache.clear();
}
