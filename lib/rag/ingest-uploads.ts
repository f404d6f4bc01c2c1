// A dataset's documents from staged uploads (files and archives on disk, lib/uploads/staging.ts): each
// document, a file or an archive's entry, is typed by its content and extracted like a single file, then
// stored encrypted in batches as the uploads are read, so neither the archives nor the dataset are ever
// held in memory whole. A document that cannot be used is refused on its own, with a message naming it;
// the others are kept. Count and total limits are checked as documents arrive.
import type { Db } from "@/lib/db-client";
import { AppError } from "@/lib/errors";
import { readUpload, DEFAULT_ARCHIVE_LIMITS } from "./archive";
import { prepareDocument, storeDocumentBatch, structureChars, type DocumentStructure, type PreparedDocument } from "./ingest";
import { DATASET_LIMITS, formatBytes, type ArchiveLimits } from "./limits";

export interface UploadSource {
  name: string;
  path: string;
}

export interface Refusal {
  name: string;
  message: string;
}

export interface StoredUploads {
  stored: number;
  refused: Refusal[];
  /** Extracted documents (title and sections) by sha256, up to a budget, so indexing need not extract them again. */
  extracted: Map<string, DocumentStructure>;
}

const BATCH_DOCUMENTS = 200;
const BATCH_BYTES = 8 * 1024 * 1024;
const TEXT_BUDGET_CHARS = 32 * 1024 * 1024;
/** Refusals listed one by one; past this many they are counted. */
const MAX_LISTED_REFUSALS = 500;

/** Names are kept to 200 characters, from the end: the page's own name matters most in a citation. */
export function documentName(name: string): string {
  const trimmed = name.trim();
  return trimmed.length <= 200 ? trimmed || "untitled" : `…${trimmed.slice(-199)}`;
}

/** What a dataset already holds when documents are added to it (a new version): they count against its limits. */
export interface ExistingDocuments {
  names: ReadonlySet<string>;
  count: number;
  bytes: number;
  /** The position the first added document takes (after every document the dataset ever held). */
  firstPosition: number;
}

export async function storeUploadedDocuments(
  db: Db,
  datasetId: string,
  sources: readonly UploadSource[],
  encryptionKey: string,
  limits: { dataset: typeof DATASET_LIMITS; archive: ArchiveLimits } = { dataset: DATASET_LIMITS, archive: DEFAULT_ARCHIVE_LIMITS },
  existing: ExistingDocuments = { names: new Set(), count: 0, bytes: 0, firstPosition: 0 },
): Promise<StoredUploads> {
  const refused: Refusal[] = [];
  let unlisted = 0;
  const refuse = (name: string, message: string) => {
    if (refused.length < MAX_LISTED_REFUSALS) refused.push({ name, message });
    else unlisted += 1;
  };
  const extracted = new Map<string, DocumentStructure>();
  let textChars = 0;
  const names = new Set<string>();
  let batch: PreparedDocument[] = [];
  let batchBytes = 0;
  let stored = 0;
  let total = existing.bytes;
  // One batch is written while the next is read and extracted: the database works on its side of the
  // write while this process works on the next documents. At most one write is in flight, so memory stays
  // at about two batches, and a failed write stops the upload at the next batch.
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const documents = batch;
    const firstPosition = existing.firstPosition + stored;
    stored += documents.length;
    batch = [];
    batchBytes = 0;
    await writing;
    writing = storeDocumentBatch(db, datasetId, documents, encryptionKey, firstPosition);
    // Awaited at the next flush or at the end; until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  };
  try {
    for (const source of sources) {
      for await (const item of readUpload(source.name, source.path, limits.archive)) {
        const name = documentName(item.name);
        if (item.kind === "refused") {
          refuse(name, item.message);
          continue;
        }
        if (names.has(name)) {
          refuse(name, `${name} was added twice.`);
          continue;
        }
        if (existing.names.has(name)) {
          refuse(name, `${name} is already in the dataset: remove it first to replace it.`);
          continue;
        }
        if (existing.count + stored + batch.length >= limits.dataset.maxFiles) {
          refuse(name, `${name}: a dataset holds at most ${limits.dataset.maxFiles} documents.`);
          continue;
        }
        if (total + item.content.byteLength > limits.dataset.maxTotalBytes) {
          refuse(name, `${name}: the dataset would pass ${formatBytes(limits.dataset.maxTotalBytes)} in all.`);
          continue;
        }
        let document: PreparedDocument;
        try {
          document = await prepareDocument({ filename: name, content: item.content });
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          refuse(name, error.message);
          continue;
        }
        names.add(name);
        total += document.content.byteLength;
        const chars = structureChars(document);
        if (textChars + chars <= TEXT_BUDGET_CHARS) {
          extracted.set(document.sha256, { title: document.title, sections: document.sections });
          textChars += chars;
        }
        batch.push(document);
        batchBytes += document.content.byteLength;
        if (batch.length >= BATCH_DOCUMENTS || batchBytes >= BATCH_BYTES) await flush();
      }
    }
    await flush();
  } catch (error) {
    // Nothing of this upload is still being written when the caller cleans up after the error.
    await writing.catch(() => undefined);
    throw error;
  }
  await writing;
  if (unlisted > 0) refused.push({ name: "…", message: `${unlisted} more entries were refused as well.` });
  return { stored, refused, extracted };
}
