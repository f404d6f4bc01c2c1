// Dataset documents: what is accepted, how its type is decided (by content, never by the file name
// alone), and how each type becomes plain text for chunking. Every rejection is an AppError whose
// message names the file and says what to do.
import { AppError } from "@/lib/errors";
import { DATASET_LIMITS, DOCUMENT_TYPES, formatBytes, type DocumentType } from "./limits";

export { DATASET_LIMITS, DOCUMENT_TYPES, formatBytes, type DocumentType };

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

const PDF_MAGIC = [0x25, 0x50, 0x44, 0x46, 0x2d]; // "%PDF-"

/** Decode UTF-8 text, or throw: a text document must be valid UTF-8 without NUL bytes. */
function decodeText(filename: string, content: Uint8Array): string {
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

/** The document's text, ready for chunking (NFC-normalised). Throws when there is no text in it. */
export async function extractDocumentText(filename: string, content: Uint8Array, type?: DocumentType): Promise<string> {
  const kind = type ?? detectDocument(filename, content).type;
  let text: string;
  switch (kind) {
    case "pdf":
      text = await pdfToText(filename, content);
      break;
    case "html":
      text = htmlToText(decodeText(filename, content));
      break;
    case "csv":
      text = csvToText(filename, decodeText(filename, content));
      break;
    case "json":
      text = jsonToText(parseJson(filename, decodeText(filename, content)));
      break;
    case "md":
      text = markdownToText(decodeText(filename, content));
      break;
    default:
      text = decodeText(filename, content);
  }
  text = text.replace(/^\uFEFF/, "").normalize("NFC");
  if (!/[\p{L}\p{N}]/u.test(text)) {
    throw new AppError(
      "bad_request",
      kind === "pdf"
        ? `${filename} has no extractable text (it may be a scanned image: run it through OCR first).`
        : `${filename} has no text to index.`,
    );
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------------------

async function pdfToText(filename: string, content: Uint8Array): Promise<string> {
  const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
  let document;
  try {
    // pdf.js takes ownership of the buffer it is given: hand it a copy.
    document = await pdfjs.getDocument({
      data: new Uint8Array(content),
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      verbosity: 0,
    }).promise;
  } catch (error) {
    throw new AppError("bad_request", `${filename} could not be read as a PDF (${(error as Error).message}).`);
  }
  try {
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const page = await document.getPage(number);
      const { items } = await page.getTextContent();
      let pageText = "";
      for (const item of items) {
        if (!("str" in item)) continue;
        pageText += item.str + (item.hasEOL ? "\n" : "");
      }
      pages.push(pageText.trim());
      page.cleanup();
    }
    return pages.filter(Boolean).join("\n\n");
  } finally {
    await document.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------------

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  mdash: "—",
  ndash: "–",
  hellip: "…",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
  copy: "©",
  reg: "®",
  eacute: "é",
  egrave: "è",
  agrave: "à",
  uuml: "ü",
  ouml: "ö",
  auml: "ä",
  szlig: "ß",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (match, entity: string) => {
    if (entity[0] === "#") {
      const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : match;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? match;
  });
}

/** Visible text of an HTML page: scripts, styles and comments dropped, block elements on their own lines. */
export function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?-->/g, " ")
      .replace(/<(script|style|noscript|template|svg)\b[\s\S]*?<\/\1\s*>/gi, " ")
      .replace(/<\/?(p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|header|footer|blockquote|pre|title|dd|dt)\b[^>]*>/gi, "\n")
      .replace(/<[^>]+>/g, " "),
  )
    .replace(/[ \t\u00a0]+/g, " ")
    .replace(/\n\s*\n+/g, "\n\n")
    .trim();
}

// ---------------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------------

/** Markdown stays readable as it is; only link and image targets (URLs) are dropped. */
export function markdownToText(markdown: string): string {
  return markdown.replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\[([^\]]+)\]\([^)]*\)/g, "$1");
}

// ---------------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------------

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

/** Each data row as one line of "column: value" pairs, so every chunk carries its column names. */
export function csvToText(filename: string, text: string): string {
  const rows = parseCsv(filename, text);
  if (rows.length === 1) return rows[0].join(" · ");
  const [header, ...data] = rows;
  return data
    .map((row) =>
      row
        .map((value, i) => [header[i]?.trim() || `column ${i + 1}`, value.trim()] as const)
        .filter(([, value]) => value !== "")
        .map(([name, value]) => `${name}: ${value}`)
        .join("; "),
    )
    .join("\n");
}

// ---------------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------------

function parseJson(filename: string, text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new AppError("bad_request", `${filename} is not valid JSON: ${(error as Error).message}`);
  }
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One line per record: an object of plain values becomes "path — key: value; key: value". */
export function jsonToText(value: unknown): string {
  const lines: string[] = [];
  const isPlain = (v: Json) => v === null || typeof v !== "object";
  const walk = (node: Json, path: string) => {
    if (isPlain(node)) {
      if (node !== null && node !== "") lines.push(path ? `${path}: ${String(node)}` : String(node));
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    const entries = Object.entries(node);
    const plain = entries.filter(([, v]) => isPlain(v) && v !== null && v !== "");
    if (plain.length > 0) {
      const fields = plain.map(([k, v]) => `${k}: ${String(v)}`).join("; ");
      lines.push(path ? `${path} — ${fields}` : fields);
    }
    for (const [key, child] of entries) if (!isPlain(child)) walk(child, path ? `${path}.${key}` : key);
  };
  walk(value as Json, "");
  return lines.join("\n");
}
