// Turns uploaded documents into a searchable dataset (BM25 over chunk text; see search.ts), in two steps:
//   1. prepareDocuments: check limits and types, extract every file's text (all or nothing: one bad
//      file rejects the upload, so nothing half-made is stored), hash each file;
//   2. storeDocuments (encrypted raw files) then indexPendingDocuments: chunk and store each
//      document's chunks in its own transaction, recording progress; it resumes from the first
//      document not yet indexed, so an interrupted run (a server restart) carries on where it stopped.
import { createHash, randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { decryptBytes, encryptBytes } from "@/lib/crypto";
import type { Db } from "@/lib/db-client";
import { AppError } from "@/lib/errors";
import { insertDocuments, writeDocumentChunks, type ChunkRow } from "./bulk";
import { chunkDocument } from "./chunk";
import { Bm25Builder } from "./bm25";
import { chunkPassage, datasetIndex, primeDatasetIndex, withLead, type DocumentLabel } from "./search";
import { SECTION_SEPARATOR } from "./citation";
import { detectDocument, extractDocument, type DocumentSection } from "./extract";
import { CHUNKING, DATASET_LIMITS, formatBytes, type DocumentType } from "./limits";

/** Chunk ids for one document: 24 lower-case hex characters, a random prefix and a counter. */
function chunkIds(): () => string {
  const prefix = randomBytes(8).toString("hex");
  let n = 0;
  return () => prefix + (n++).toString(16).padStart(8, "0");
}

export interface UploadedFile {
  filename: string;
  content: Uint8Array;
}

/** What indexing needs of an extracted document: its title and its sections (extract.ts). */
export interface DocumentStructure {
  title: string;
  sections: DocumentSection[];
}

export interface PreparedDocument extends DocumentStructure {
  filename: string;
  type: DocumentType;
  mimeType: string;
  content: Uint8Array;
  sha256: string;
  text: string;
}

/** Characters of a document's sections: what keeping its structure in memory costs. */
export function structureChars(document: DocumentStructure): number {
  return document.sections.reduce((n, section) => n + section.text.length, document.title.length);
}

export function sha256Hex(content: Uint8Array | string): string {
  return createHash("sha256").update(content).digest("hex");
}

/** What a dataset's slot metadata commits to: sha256 over its documents' sha256 hashes, in order. */
export function datasetContentHash(documentHashes: readonly string[]): string {
  return `sha256:${sha256Hex(documentHashes.join("\n"))}`;
}

/** Check one document's type by its content and extract its text; throws an AppError naming it. */
export async function prepareDocument(file: UploadedFile): Promise<PreparedDocument> {
  const { filename, content } = file;
  const { type, mimeType } = detectDocument(filename, content);
  const { title, sections, text } = await extractDocument(filename, content, type);
  return { filename, type, mimeType, content, sha256: sha256Hex(content), text, title, sections };
}

/** Validate and extract every file; throws one error naming each bad file. */
export async function prepareDocuments(files: readonly UploadedFile[]): Promise<PreparedDocument[]> {
  if (files.length === 0) throw new AppError("bad_request", "Add at least one file.");
  if (files.length > DATASET_LIMITS.maxFiles) {
    throw new AppError("bad_request", `${files.length} files: a dataset upload takes at most ${DATASET_LIMITS.maxFiles}.`);
  }
  const total = files.reduce((sum, file) => sum + file.content.byteLength, 0);
  if (total > DATASET_LIMITS.maxTotalBytes) {
    throw new AppError(
      "payload_too_large",
      `The files add up to ${formatBytes(total)}; one upload may be at most ${formatBytes(DATASET_LIMITS.maxTotalBytes)}.`,
    );
  }
  const names = new Set<string>();
  const problems: (AppError & { filename: string })[] = [];
  const prepared: PreparedDocument[] = [];
  for (const file of files) {
    const filename = file.filename.trim().slice(0, 200) || "untitled";
    try {
      if (names.has(filename)) throw new AppError("bad_request", `${filename} was added twice.`);
      names.add(filename);
      prepared.push(await prepareDocument({ filename, content: file.content }));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      problems.push(Object.assign(error, { filename }));
    }
  }
  if (problems.length > 0) {
    // The most specific status wins when files fail for different reasons.
    const code = problems.find((p) => p.code === "payload_too_large")?.code ?? problems.find((p) => p.code === "unsupported_media_type")?.code ?? "bad_request";
    throw new AppError(code, problems.map((p) => p.message).join(" "), { files: problems.map((p) => ({ name: p.filename, message: p.message })) });
  }
  return prepared;
}

/** What a stored file's encryption is bound to: its dataset, its hash and how it was packed. */
function documentAad(datasetId: string, sha256: string, contentEncoding: string): string {
  return contentEncoding === "identity" ? `kip-document:${datasetId}:${sha256}` : `kip-document:${datasetId}:${sha256}:${contentEncoding}`;
}

/**
 * A raw file as stored: packed with raw DEFLATE when that makes it smaller (text and HTML shrink about
 * five times; PDFs and images are already packed and stay as they are), then encrypted, bound to its
 * dataset and hash. Compression comes before encryption (ciphertext does not compress), and each file
 * is packed alone, so nothing of one file's content shows in another's size.
 */
export function sealDocument(
  datasetId: string,
  document: { content: Uint8Array; sha256: string },
  encryptionKey: string,
): { content: Buffer; contentEncoding: "deflate" | "identity" } {
  // Level 1: most of the size gain for a fraction of the default level's time.
  const packed = deflateRawSync(document.content, { level: 1 });
  const contentEncoding = packed.byteLength < document.content.byteLength ? "deflate" : "identity";
  return {
    content: encryptBytes(contentEncoding === "deflate" ? packed : document.content, encryptionKey, documentAad(datasetId, document.sha256, contentEncoding)),
    contentEncoding,
  };
}

/**
 * Store raw files encrypted (bound to their dataset and hash) at positions from `firstPosition` on. An
 * upload stores its documents in batches like this as it reads them, then calls finishStoredDocuments.
 */
export async function storeDocumentBatch(
  db: Db,
  datasetId: string,
  documents: readonly Pick<PreparedDocument, "filename" | "title" | "mimeType" | "content" | "sha256">[],
  encryptionKey: string,
  firstPosition: number,
): Promise<void> {
  if (documents.length === 0) return;
  await insertDocuments(
    db,
    documents.map((doc, i) => ({
      id: randomBytes(12).toString("hex"),
      datasetId,
      filename: doc.filename,
      title: doc.title,
      mimeType: doc.mimeType,
      bytes: doc.content.byteLength,
      sha256: doc.sha256,
      ...sealDocument(datasetId, doc, encryptionKey),
      position: firstPosition + i,
    })),
  );
}

/** Record a dataset's totals and content hash from its stored documents, in order. */
export async function finishStoredDocuments(db: Db, datasetId: string): Promise<void> {
  const stored = await db.document.findMany({ where: { datasetId }, orderBy: { position: "asc" }, select: { sha256: true, bytes: true } });
  await db.dataset.update({
    where: { listingId: datasetId },
    data: { bytesTotal: stored.reduce((sum, doc) => sum + doc.bytes, 0), contentHash: datasetContentHash(stored.map((doc) => doc.sha256)) },
  });
}

/** Store the raw files encrypted (bound to their dataset and hash) and record the totals. */
export async function storeDocuments(db: Db, datasetId: string, documents: readonly PreparedDocument[], encryptionKey: string): Promise<void> {
  await storeDocumentBatch(db, datasetId, documents, encryptionKey, 0);
  await db.dataset.update({
    where: { listingId: datasetId },
    data: {
      bytesTotal: documents.reduce((sum, doc) => sum + doc.content.byteLength, 0),
      contentHash: datasetContentHash(documents.map((doc) => doc.sha256)),
    },
  });
}

/** A stored document's raw bytes (for its owner). */
export function decryptDocument(
  document: { datasetId: string; sha256: string; content: Uint8Array; contentEncoding: string; bytes: number },
  encryptionKey: string,
): Buffer {
  if (document.contentEncoding !== "identity" && document.contentEncoding !== "deflate") throw new Error(`unknown document encoding ${document.contentEncoding}`);
  const plain = decryptBytes(document.content, encryptionKey, documentAad(document.datasetId, document.sha256, document.contentEncoding));
  if (document.contentEncoding === "identity") return plain;
  // The stored size bounds what it may unpack to.
  const raw = inflateRawSync(plain, { maxOutputLength: Math.max(1, document.bytes) });
  if (raw.byteLength !== document.bytes) throw new Error(`document unpacks to ${raw.byteLength} bytes, not ${document.bytes}`);
  return raw;
}

/** Pending documents in groups of at most 200 documents or 4 MB of source (whichever comes first). */
function* groups<T extends { bytes: number }>(docs: readonly T[]): Generator<T[]> {
  let group: T[] = [];
  let bytes = 0;
  for (const doc of docs) {
    if (group.length > 0 && (group.length >= 200 || bytes + doc.bytes > 4 * 1024 * 1024)) {
      yield group;
      group = [];
      bytes = 0;
    }
    group.push(doc);
    bytes += doc.bytes;
  }
  if (group.length > 0) yield group;
}

export interface IndexProgress {
  bytesIndexed: number;
  bytesTotal: number;
  chunkCount: number;
}

/** A document's chunks as stored: each follows its section and carries the section's path and page. */
export function documentChunks(documentId: string, structure: DocumentStructure): ChunkRow[] {
  const ids = chunkIds();
  return chunkDocument(structure, CHUNKING).map((chunk, position) => ({
    id: ids(),
    documentId,
    position,
    text: chunk.text,
    section: chunk.section.join(SECTION_SEPARATOR),
    page: chunk.page ?? null,
  }));
}

/**
 * Index every stored document of the dataset that has no chunks yet, in groups of documents, and mark
 * the dataset ready. `extracted` (by sha256) skips re-extraction of documents extracted at upload.
 */
export async function indexPendingDocuments(
  db: Db,
  datasetId: string,
  encryptionKey: string,
  { extracted, onProgress }: { extracted?: ReadonlyMap<string, DocumentStructure>; onProgress?: (progress: IndexProgress) => void } = {},
): Promise<IndexProgress> {
  const pending = await db.document.findMany({
    where: { datasetId, indexedAt: null },
    orderBy: { position: "asc" },
    select: { id: true, filename: true, title: true, mimeType: true, sha256: true, bytes: true },
  });
  const alreadyIndexed = await db.document.count({ where: { datasetId, indexedAt: { not: null } } });
  // When this run indexes the whole dataset, its chunks are all in memory: the search index is built from
  // them as they are written, in the dataset's order (pending is in document order, chunks in position).
  const whole = alreadyIndexed === 0 && pending.length > 0;
  const labels = new Map<string, DocumentLabel>(pending.map((doc) => [doc.id, { filename: doc.filename, title: doc.title }]));
  const written: ChunkRow[] = [];
  const builder = whole ? new Bm25Builder() : null;
  let version = 0;
  // Documents are indexed in groups, one transaction per group: a dataset of thousands of small pages
  // costs a few hundred round trips, not several per page. One group is written while the next is
  // chunked and the written one's passages go into the search index, so this process and the database
  // work at the same time; at most one write is in flight.
  let writing: Promise<void> = Promise.resolve();
  try {
    for (const group of groups(pending)) {
      const missing = group.filter((doc) => extracted?.get(doc.sha256) === undefined);
      const contents = new Map(
        missing.length === 0
          ? []
          : (await db.document.findMany({ where: { id: { in: missing.map((doc) => doc.id) } }, select: { id: true, content: true, contentEncoding: true } })).map((row) => [row.id, row]),
      );
      const batch = [];
      for (const doc of group) {
        let structure = extracted?.get(doc.sha256);
        if (structure === undefined) {
          const raw = decryptDocument({ datasetId, sha256: doc.sha256, bytes: doc.bytes, ...contents.get(doc.id)! }, encryptionKey);
          structure = await extractDocument(doc.filename, raw);
        }
        const chunks = documentChunks(doc.id, structure);
        // Its passages are indexed with its lead, as an index loaded from the database has them (withLeads).
        labels.set(doc.id, withLead({ filename: doc.filename, title: doc.title }, chunks[0]));
        batch.push({ documentId: doc.id, bytes: doc.bytes, chunks });
      }
      await writing;
      writing = writeDocumentChunks(db, { datasetId, documents: batch }).then((updated) => {
        version = updated.indexVersion;
        onProgress?.(updated);
      });
      // Awaited before the next write or after the last; until then a failure must not count as unhandled.
      writing.catch(() => undefined);
      if (builder) {
        for (const { chunks } of batch) {
          for (const chunk of chunks) builder.add(chunkPassage(chunk, labels));
          written.push(...chunks);
        }
      }
    }
  } catch (error) {
    // Nothing is left writing when the caller records the failure.
    await writing.catch(() => undefined);
    throw error;
  }
  await writing;
  if (builder) primeDatasetIndex(datasetId, version, written, labels, { builder });
  else await datasetIndex(db, datasetId);
  return db.dataset.update({
    where: { listingId: datasetId },
    data: { status: "ready", error: null },
    select: { bytesIndexed: true, bytesTotal: true, chunkCount: true },
  });
}

/**
 * One document in one call (scripts and test fixtures): checked, stored encrypted and indexed, the same
 * path as an upload. `mimeType` is ignored: the type is decided by content.
 */
export async function indexDocument(
  db: Db,
  datasetId: string,
  input: { filename: string; content: Uint8Array; mimeType?: string },
  encryptionKey: string,
): Promise<{ documentId: string; chunks: number }> {
  const [document] = await prepareDocuments([input]);
  const before = await db.document.findMany({ where: { datasetId }, select: { id: true, bytes: true } });
  await insertDocuments(db, [
    {
      id: randomBytes(12).toString("hex"),
      datasetId,
      filename: document.filename,
      title: document.title,
      mimeType: document.mimeType,
      bytes: document.content.byteLength,
      sha256: document.sha256,
      ...sealDocument(datasetId, document, encryptionKey),
      position: before.length,
    },
  ]);
  const hashes = await db.document.findMany({ where: { datasetId }, orderBy: { position: "asc" }, select: { sha256: true } });
  await db.dataset.update({
    where: { listingId: datasetId },
    data: { bytesTotal: { increment: document.content.byteLength }, contentHash: datasetContentHash(hashes.map((h) => h.sha256)) },
  });
  const added = await db.document.findFirstOrThrow({ where: { datasetId, position: before.length }, select: { id: true } });
  await indexPendingDocuments(db, datasetId, encryptionKey, { extracted: new Map([[document.sha256, document]]) });
  return { documentId: added.id, chunks: await db.chunk.count({ where: { documentId: added.id } }) };
}
