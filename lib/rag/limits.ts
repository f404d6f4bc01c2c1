// What a dataset upload accepts and how documents are chunked: shared by the upload form (shown up
// front) and the server (enforced). No server-only imports: the browser bundles this file.

/** Limits shown on the upload form and enforced by the server. */
export const DATASET_LIMITS = {
  /** Documents in one dataset (files, and the documents inside archives, together). */
  maxFiles: 5000,
  /** Per document (a file, or one entry of an archive). */
  maxFileBytes: 5 * 1024 * 1024,
  /** All documents of one dataset together. */
  maxTotalBytes: 200 * 1024 * 1024,
  /** One uploaded file or archive (resumable uploads, /api/uploads). */
  maxUploadBytes: 200 * 1024 * 1024,
  /** A single multipart POST to /api/datasets (for scripts; the form uses resumable uploads). */
  maxMultipartBytes: 25 * 1024 * 1024,
} as const;

/**
 * What an archive (.zip, .tar, .tar.gz) may hold. An entry is refused, on its own, when it would unpack
 * to more than a document may be or compresses more than `maxRatio` to one (a zip bomb's signature); an
 * archive stops being read once its entries unpack to more than `maxUnpackedBytes` in all (its nested
 * archives included) or list more than `maxEntries`. Archives may hold archives `maxNesting` level deep.
 */
export const ARCHIVE_LIMITS = {
  maxRatio: 100,
  /** Below this size an entry's compression ratio is not held against it (a small blank page compresses very well). */
  ratioFloorBytes: 256 * 1024,
  maxUnpackedBytes: 2 * 200 * 1024 * 1024,
  maxEntries: 20_000,
  maxNesting: 1,
} as const;

export type ArchiveLimits = {
  maxEntryBytes: number;
  maxRatio: number;
  ratioFloorBytes: number;
  maxUnpackedBytes: number;
  maxEntries: number;
  maxNesting: number;
};

/** Extensions of the archives an upload may be: their entries become the documents. */
export const ARCHIVE_EXTENSIONS = [".zip", ".tar", ".tar.gz", ".tgz"] as const;

/**
 * How much of a PDF the server will read: pages, and time spent extracting text (checked between
 * pages and while a page is read). A PDF over either is refused with a message saying which.
 */
export const PDF_LIMITS = { maxPages: 2000, maxMs: 60_000 } as const;

export type PdfLimits = { maxPages: number; maxMs: number };

export const DOCUMENT_TYPES = {
  txt: { mimeType: "text/plain", label: "plain text" },
  md: { mimeType: "text/markdown", label: "Markdown" },
  html: { mimeType: "text/html", label: "HTML" },
  pdf: { mimeType: "application/pdf", label: "PDF" },
  csv: { mimeType: "text/csv", label: "CSV" },
  json: { mimeType: "application/json", label: "JSON" },
} as const;

export type DocumentType = keyof typeof DOCUMENT_TYPES;

/** Extensions the upload form names. Its file picker has no filter: any UTF-8 text is accepted as plain text by content. */
export const ACCEPTED_EXTENSIONS = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".csv", ".json"] as const;

/** How documents are split for retrieval (lib/rag/chunk.ts): characters per chunk and overlap. */
export const CHUNKING = { maxChars: 900, overlapChars: 150 } as const;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}
