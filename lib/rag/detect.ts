// A document's type, decided from its bytes (never by the file name alone), and the checks a text format's
// content must pass. No dependencies beyond the platform: the dataset form runs the same checks in the
// browser as each file is added, so a file the server would refuse is marked before anything is sent.
import { AppError } from "@/lib/errors";
import { DATASET_LIMITS, DOCUMENT_TYPES, formatBytes, type DocumentType } from "./limits";

export interface DetectedDocument {
  type: DocumentType;
  mimeType: string;
}

const BINARY_SIGNATURES: { name: string; bytes: number[] }[] = [
  { name: "a PNG image", bytes: [0x89, 0x50, 0x4e, 0x47] },
  { name: "a JPEG image", bytes: [0xff, 0xd8, 0xff] },
  { name: "a GIF image", bytes: [0x47, 0x49, 0x46, 0x38] },
  { name: "a ZIP archive (or a Word/Excel file)", bytes: [0x50, 0x4b, 0x03, 0x04] },
  { name: "a gzip archive", bytes: [0x1f, 0x8b] },
  { name: "a UTF-16 text file (save it as UTF-8)", bytes: [0xff, 0xfe] },
  { name: "a UTF-16 text file (save it as UTF-8)", bytes: [0xfe, 0xff] },
];

function startsWith(content: Uint8Array, bytes: number[]): boolean {
  return content.byteLength >= bytes.length && bytes.every((byte, i) => content[i] === byte);
}

function extensionOf(filename: string): string {
  const dot = filename.lastIndexOf(".");
  return dot > 0 ? filename.slice(dot + 1).toLowerCase() : "";
}

export type ArchiveKind = "zip" | "gzip" | "tar";

/**
 * An archive's kind by its first bytes (at least 262 for tar): zip (a local file header or an empty
 * archive's end record), gzip (a .tar.gz, checked to be tar as it is read), or tar ("ustar" at 257).
 */
export function archiveKindOf(head: Uint8Array): ArchiveKind | null {
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return "zip";
  if (startsWith(head, [0x1f, 0x8b])) return "gzip";
  const ustar = [0x75, 0x73, 0x74, 0x61, 0x72];
  if (head.byteLength >= 262 && ustar.every((byte, i) => head[257 + i] === byte)) return "tar";
  return null;
}

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

/** Decode UTF-8 text, or throw: a text document must be valid UTF-8 without NUL bytes. */
export function decodeText(filename: string, content: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(content);
  } catch {
    throw new AppError("unsupported_media_type", `${filename} is not UTF-8 text, PDF, or another supported type by its content.`);
  }
  if (text.includes("\u0000")) {
    throw new AppError("unsupported_media_type", `${filename} contains binary data, not text.`);
  }
  return text;
}

/**
 * Decide a document's type from its bytes. The name's extension only chooses between text formats
 * (plain, Markdown, CSV, JSON, HTML), and a claim the content contradicts (a ".pdf" that is not a PDF,
 * a ".json" that does not parse) is an error.
 */
export function detectDocument(filename: string, content: Uint8Array): DetectedDocument {
  if (content.byteLength === 0) throw new AppError("bad_request", `${filename} is empty.`);
  if (content.byteLength > DATASET_LIMITS.maxFileBytes) {
    throw new AppError(
      "payload_too_large",
      `${filename} is ${formatBytes(content.byteLength)}; each file may be at most ${formatBytes(DATASET_LIMITS.maxFileBytes)}.`,
    );
  }
  const ext = extensionOf(filename);
  if (startsWith(content, PDF_MAGIC)) return { type: "pdf", mimeType: DOCUMENT_TYPES.pdf.mimeType };
  if (ext === "pdf") throw new AppError("unsupported_media_type", `${filename} is not a PDF: its content does not start with %PDF-.`);
  for (const signature of BINARY_SIGNATURES) {
    if (startsWith(content, signature.bytes)) {
      throw new AppError("unsupported_media_type", `${filename} is ${signature.name}, not a supported document type.`);
    }
  }
  const text = decodeText(filename, content);
  const head = text.slice(0, 512).trimStart().toLowerCase();
  let type: DocumentType;
  if (ext === "json") type = "json";
  else if (ext === "csv") type = "csv";
  else if (ext === "html" || ext === "htm" || head.startsWith("<!doctype html") || head.startsWith("<html")) type = "html";
  else if (ext === "md" || ext === "markdown") type = "md";
  else type = "txt";
  if (type === "json") parseJson(filename, text);
  if (type === "csv") parseCsv(filename, text);
  return { type, mimeType: DOCUMENT_TYPES[type].mimeType };
}

/** RFC 4180 rows; the delimiter (comma, semicolon or tab) is the one the first line uses most. */
export function parseCsv(filename: string, text: string): string[][] {
  const source = text.replace(/^\uFEFF/, "");
  const firstLine = source.slice(0, source.search(/\r?\n|$/));
  const delimiter = [",", ";", "\t"].reduce((best, d) => (firstLine.split(d).length > firstLine.split(best).length ? d : best), ",");
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quoted) {
      if (c === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && source[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.some((value) => value !== "")) rows.push(row);
      row = [];
    } else field += c;
  }
  if (quoted) throw new AppError("bad_request", `${filename} is not valid CSV: a quoted field is never closed.`);
  row.push(field);
  if (row.some((value) => value !== "")) rows.push(row);
  if (rows.length === 0) throw new AppError("bad_request", `${filename} has no rows.`);
  return rows;
}

export function parseJson(filename: string, text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new AppError("bad_request", `${filename} is not valid JSON: ${(error as Error).message}`);
  }
}
