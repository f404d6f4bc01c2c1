// What a dataset upload accepts and how documents are chunked: shared by the upload form (shown up
// front) and the server (enforced). No server-only imports: the browser bundles this file.

/** Limits shown on the upload form and enforced by the server. */
export const DATASET_LIMITS = {
  maxFiles: 20,
  /** Per file. */
  maxFileBytes: 5 * 1024 * 1024,
  /** All files of one upload together. */
  maxTotalBytes: 25 * 1024 * 1024,
} as const;

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
