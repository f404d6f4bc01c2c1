// Dataset documents: what is accepted, how its type is decided (by content, never by the file name
// alone), and how each type becomes text for chunking. Every rejection is an AppError whose message
// names the file and says what to do.
//
// Extraction keeps the structure retrieval and citations need (extractDocument): the document's title,
// and its text as sections, each with its heading path ("Chapter 20. Server Configuration › 20.4.
// Resource Consumption") and, for a PDF, its page. HTML keeps its main content only: navigation,
// headers, footers, sidebars and tables of contents are dropped (see htmlToDocument).
import { Parser } from "htmlparser2";
import { AppError } from "@/lib/errors";
import { decodeText, detectDocument, parseCsv, parseJson } from "./detect";
import { DATASET_LIMITS, DOCUMENT_TYPES, PDF_LIMITS, formatBytes, type DocumentType, type PdfLimits } from "./limits";

export { DATASET_LIMITS, DOCUMENT_TYPES, formatBytes, type DocumentType };
export { detectDocument, parseCsv, type DetectedDocument } from "./detect";

/** A part of a document under one heading path (or one page of a PDF). */
export interface DocumentSection {
  /** Headings from the outermost in; empty before the first heading and for flat formats. */
  path: string[];
  /** 1-based page number (PDF). */
  page?: number;
  text: string;
}

export interface ExtractedDocument {
  type: DocumentType;
  /** The document's own title (HTML <title>, the first Markdown heading, PDF metadata), else its file name. */
  title: string;
  sections: DocumentSection[];
  /** All of the text, ready for chunking (NFC-normalised): what extractDocumentText returns. */
  text: string;
}

export { citationLabel, SECTION_SEPARATOR } from "./citation";

/** The document's text, ready for chunking (NFC-normalised). Throws when there is no text in it. */
export async function extractDocumentText(filename: string, content: Uint8Array, type?: DocumentType, options?: ExtractOptions): Promise<string> {
  return (await extractDocument(filename, content, type, options)).text;
}

export interface ExtractOptions {
  /** Page and time limits for PDFs (default PDF_LIMITS). */
  pdf?: PdfLimits;
}

/** The document's title, sections and text. Throws when there is no text in it. */
export async function extractDocument(filename: string, content: Uint8Array, type?: DocumentType, options: ExtractOptions = {}): Promise<ExtractedDocument> {
  const kind = type ?? detectDocument(filename, content).type;
  let structured: { title: string | null; sections: DocumentSection[]; text?: string };
  switch (kind) {
    case "pdf":
      structured = await pdfToDocument(filename, content, options.pdf ?? PDF_LIMITS);
      break;
    case "html":
      structured = htmlToDocument(decodeText(filename, content));
      break;
    case "csv":
      structured = { title: null, sections: [{ path: [], text: csvToText(filename, decodeText(filename, content)) }] };
      break;
    case "json":
      structured = { title: null, sections: [{ path: [], text: jsonToText(parseJson(filename, decodeText(filename, content))) }] };
      break;
    case "md":
      structured = markdownToDocument(decodeText(filename, content));
      break;
    default:
      structured = { title: null, sections: [{ path: [], text: decodeText(filename, content) }] };
  }
  const clean = (text: string) => text.replace(/^\uFEFF/, "").normalize("NFC");
  const sections = structured.sections
    .map((section) => ({ ...section, path: section.path.map(clean), text: clean(section.text) }))
    .filter((section) => /[\p{L}\p{N}]/u.test(section.text));
  const text = clean(structured.text ?? structured.sections.map((section) => section.text).join("\n\n"));
  if (!/[\p{L}\p{N}]/u.test(text)) {
    throw new AppError(
      "bad_request",
      kind === "pdf"
        ? `${filename} has no extractable text (it may be a scanned image: run it through OCR first).`
        : `${filename} has no text to index.`,
    );
  }
  return { type: kind, title: clean(structured.title?.trim() || filename), sections, text };
}

// ---------------------------------------------------------------------------------------------------
// PDF
// ---------------------------------------------------------------------------------------------------

async function pdfToDocument(
  filename: string,
  content: Uint8Array,
  limits: PdfLimits,
): Promise<{ title: string | null; sections: DocumentSection[]; text: string }> {
  const deadline = Date.now() + limits.maxMs;
  const tooSlow = () =>
    new AppError("bad_request", `${filename} took longer than ${limits.maxMs / 1000} s to read; split it into smaller PDFs.`);
  // Each pdf.js step either finishes before the deadline or the extraction is given up (and the
  // document destroyed in `finally`, which stops pdf.js's pending work).
  const inTime = async <T>(step: Promise<T>): Promise<T> => {
    const left = deadline - Date.now();
    if (left <= 0) throw tooSlow();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([step, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(tooSlow()), left)))]);
    } finally {
      clearTimeout(timer);
    }
  };
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
    if (document.numPages > limits.maxPages) {
      throw new AppError("bad_request", `${filename} has ${document.numPages} pages; a PDF may have at most ${limits.maxPages}. Split it into smaller PDFs.`);
    }
    const metadata = await inTime(document.getMetadata()).catch((error: unknown) => {
      if (error instanceof AppError) throw error;
      return null;
    });
    const info = metadata?.info as { Title?: unknown } | undefined;
    const title = typeof info?.Title === "string" ? info.Title : null;
    const pages: string[] = [];
    const sections: DocumentSection[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const page = await inTime(document.getPage(number));
      const { items } = await inTime(page.getTextContent());
      let pageText = "";
      for (const item of items) {
        if (!("str" in item)) continue;
        pageText += item.str + (item.hasEOL ? "\n" : "");
      }
      pages.push(pageText.trim());
      if (pageText.trim()) sections.push({ path: [], page: number, text: pageText.trim() });
      page.cleanup();
    }
    return { title, sections, text: pages.filter(Boolean).join("\n\n") };
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

/** Visible text of an HTML page's main content: headings and blocks on their own lines. */
export function htmlToText(html: string): string {
  return htmlToDocument(html).text;
}

// Elements whose content is never text of the page.
const HIDDEN = new Set(["script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "select", "button", "form", "dialog"]);
// Page furniture: navigation and the site around the content.
const FURNITURE = new Set(["nav", "aside", "menu"]);
const FURNITURE_ROLES = new Set(["navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"]);
// Class or id words of navigation, tables of contents and page chrome (DocBook's navheader/navfooter,
// Sphinx's sphinxsidebar/related, generic breadcrumbs, skip links, cookie notices).
const FURNITURE_NAMES =
  /(?:^|[\s_-])(?:nav|navbar|navheader|navfooter|navigation|breadcrumbs?|sidebar|sphinxsidebar|related|toc|menu|skip|skiplink|cookie|cookies|pager|pagination|footer|site-header|site-footer)(?:$|[\s_-])/i;
// Elements that end a line of text.
const BLOCKS = new Set([
  "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section", "article", "main", "header", "footer",
  "blockquote", "pre", "figure", "figcaption", "caption", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "body",
]);
const HEADING = /^h([1-6])$/;
// A list is a list of links when at least this share of its items carry a link and its items are short
// (characters per item): an index's entries, a table of contents. A list of definitions or options
// that cite other pages now and then is content.
const LINK_LIST_SHARE = 0.8;
const LINK_LIST_ITEM_CHARS = 160;

/**
 * The main content of an HTML page as a document: its title, its sections under their headings' path,
 * and the text. One streaming pass of htmlparser2 (a kept parser, the one under cheerio and linkedom):
 * a readability extractor on a DOM was measured at about 0.2 MB/s of HTML against more than 10 here,
 * and ingestion must stay above 10 MB/s. The rules are structural, not scored:
 *   - hidden elements (scripts, styles, forms) and page furniture are dropped: <nav>, <aside>, <menu>,
 *     landmark roles other than main, class or id names of navigation and tables of contents, and
 *     <header>/<footer> outside <article>/<main>;
 *   - when the page marks its content with <main>, role="main" or <article>, only that is kept;
 *   - the page's parent (<link rel="up">, or an "Up" link with a title, as DocBook and Sphinx write it)
 *     becomes the first element of every section path, so "20.4. Resource Consumption" sits under
 *     "Chapter 20. Server Configuration"; the page's own title comes next in every path (a reference
 *     page's "Synopsis" is "SQL Commands › INSERT › Synopsis");
 *   - links are navigation, not content: a list (ul, ol, dl) of three or more short items, nearly all
 *     of which carry a link (an index, a table of contents, a "see also" list), and a block that is
 *     nothing but links, are dropped. A page made only of those (a book's index) keeps its headings as
 *     text but has no passages: the pages it points to hold the content;
 *   - a definition list's terms head their definitions: each <dt> followed by a <dd> (a configuration
 *     parameter, a command-line option) opens a section under the heading it sits in, so its passages
 *     are cited and ranked as "20.4.1. Memory › shared_buffers (integer)".
 */
export function htmlToDocument(html: string): { title: string | null; sections: DocumentSection[]; text: string } {
  /** heading: 1-6 for <h1>-<h6>, TERM for a definition's term; nav: dropped as navigation (see above). */
  type Block = { heading: number; text: string; main: boolean; dt: boolean; nav: boolean };
  const TERM = 7;
  const blocks: Block[] = [];
  // One number per open element: which of the counters below it raised (bit flags).
  const SKIP = 1;
  const MAIN = 2;
  const ARTICLE = 4;
  const PRE = 8;
  const LINK = 16;
  const LIST = 32;
  const ITEM = 64;
  const DT = 128;
  const stack: number[] = [];
  let skipping = 0;
  let mainDepth = 0;
  let articleDepth = 0;
  let preDepth = 0;
  let linkDepth = 0;
  let dtDepth = 0;
  let sawMain = false;
  let inBody = false;
  let title = "";
  let inTitle = false;
  let up: string | null = null;
  let line = "";
  let lineLinkChars = 0;
  /** A table cell began after the line's text: a separator goes before the cell's own text. */
  let cellAfterText = false;
  let heading = 0;
  // Open lists and items, innermost last: a list is a link list when every item carries a link.
  const lists: { start: number; items: number; linked: number }[] = [];
  const items: { linked: boolean }[] = [];

  // Letters and digits of a text (anything outside ASCII counts as a letter: cheap, and exact enough to
  // compare a block's link text with its whole text).
  const letters = (text: string) => {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if ((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c > 127) n++;
    }
    return n;
  };
  const flush = () => {
    if (!line) return;
    const text = preDepth > 0 ? line.replace(/^\n+|\s+$/g, "") : line.replace(/\s+/g, " ").trim();
    if (text) {
      // A block that is all link text (and not a heading) only points elsewhere.
      const nav = heading === 0 && lineLinkChars > 0 && lineLinkChars >= 0.9 * letters(text);
      blocks.push({ heading, text, main: mainDepth > 0, dt: dtDepth > 0, nav });
    }
    line = "";
    lineLinkChars = 0;
    cellAfterText = false;
  };

  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (up === null && attributes.title !== undefined && (name === "link" || name === "a")) {
          const rel = attributes.rel?.toLowerCase().split(/\s+/) ?? [];
          if (rel.includes("up") || attributes.accesskey === "u") up = attributes.title.replace(/\s+/g, " ").trim();
        }
        if (name === "body") inBody = true;
        else if (name === "title" && !inBody) inTitle = true;
        const role = attributes.role?.toLowerCase();
        const isMain = name === "main" || role === "main";
        const skip =
          HIDDEN.has(name) ||
          FURNITURE.has(name) ||
          (role !== undefined && FURNITURE_ROLES.has(role)) ||
          ((name === "header" || name === "footer") && mainDepth === 0 && articleDepth === 0) ||
          (!isMain && (attributes.class !== undefined || attributes.id !== undefined) && FURNITURE_NAMES.test(`${attributes.class ?? ""} ${attributes.id ?? ""}`)) ||
          attributes.hidden !== undefined ||
          attributes["aria-hidden"] === "true";
        let flags = (skip ? SKIP : 0) | (isMain ? MAIN : 0) | (name === "article" ? ARTICLE : 0) | (name === "pre" ? PRE : 0);
        if (!skipping && !skip) {
          if (BLOCKS.has(name)) flush();
          if (name.length === 2 && name[0] === "h" && HEADING.test(name)) heading = name.charCodeAt(1) - 48;
          if (isMain || name === "article") sawMain = true;
          if (name === "br") line += "\n";
          // Table cells are inline, but each holds a value of its own: "Name | Storage Size | Range",
          // never "NameStorage SizeRange" (the row, a block, ends the line). The separator goes in
          // before the next cell's text, so empty cells add none.
          if (name === "td" || name === "th") cellAfterText = /\S/.test(line);
          if (name === "a" && attributes.href !== undefined) {
            flags |= LINK;
            for (const item of items) item.linked = true;
          }
          if (name === "ul" || name === "ol" || name === "dl") {
            flags |= LIST;
            lists.push({ start: blocks.length, items: 0, linked: 0 });
          }
          if ((name === "li" || name === "dt" || name === "dd") && lists.length > 0) {
            flags |= ITEM;
            items.push({ linked: false });
          }
          if (name === "dt") flags |= DT;
          if (name === "dd") {
            // The terms just before a definition head it.
            for (let i = blocks.length - 1; i >= 0 && blocks[i].dt && blocks[i].heading === 0 && !blocks[i].nav; i--) blocks[i].heading = TERM;
          }
        }
        if (flags & SKIP) skipping++;
        if (flags & MAIN) mainDepth++;
        if (flags & ARTICLE) articleDepth++;
        if (flags & PRE) preDepth++;
        if (flags & LINK) linkDepth++;
        if (flags & DT) dtDepth++;
        stack.push(flags);
      },
      ontext(text) {
        if (inTitle) title += text;
        else if (!skipping) {
          if (cellAfterText && /\S/.test(text)) {
            line += " | ";
            cellAfterText = false;
          }
          line += text;
          if (linkDepth > 0) lineLinkChars += letters(text);
        }
      },
      onclosetag(name) {
        if (name === "title") inTitle = false;
        // htmlparser2 closes implied elements one by one, so the stack's top is the element closed.
        const flags = stack.pop();
        if (flags === undefined) return;
        if (!skipping && BLOCKS.has(name)) {
          flush();
          if (heading && name.length === 2 && name[0] === "h") heading = 0;
        }
        if (flags & ITEM) {
          const item = items.pop()!;
          const list = lists[lists.length - 1];
          list.items++;
          if (item.linked) list.linked++;
        }
        if (flags & LIST) {
          const list = lists.pop()!;
          const listed = blocks.slice(list.start);
          const chars = listed.reduce((n, b) => n + b.text.length, 0);
          if (list.items >= 3 && list.linked >= LINK_LIST_SHARE * list.items && chars / list.items < LINK_LIST_ITEM_CHARS) for (const block of listed) if (block.heading === 0 || block.heading === TERM) (block.nav = true), (block.heading = 0);
        }
        if (flags & SKIP) skipping--;
        if (flags & MAIN) mainDepth--;
        if (flags & ARTICLE) articleDepth--;
        if (flags & PRE) preDepth--;
        if (flags & LINK) linkDepth--;
        if (flags & DT) dtDepth--;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);
  flush();

  const main = sawMain && blocks.some((b) => b.main) ? blocks.filter((b) => b.main) : blocks;
  const kept = main.filter((b) => !b.nav);
  const pageTitle = title.replace(/\s+/g, " ").trim() || kept.find((b) => b.heading === 1)?.text || null;
  const sections: DocumentSection[] = [];
  // The page's own heading (its title) is in every path, right after the parent: headings that repeat
  // it are not pushed again.
  const root = [...(up ? [up] : []), ...(pageTitle ? [pageTitle] : [])];
  const headings: { level: number; text: string }[] = [];
  let current: DocumentSection = { path: [...root], text: "" };
  const lines: string[] = [];
  let previousWasTerm = false;
  for (const block of kept) {
    lines.push(block.text);
    if (block.heading) {
      if (block.heading === TERM && previousWasTerm && !current.text) {
        // Several terms of one definition ("-d dbname", "--dbname=dbname") head it together.
        const last = headings[headings.length - 1];
        last.text = `${last.text}, ${block.text}`;
        current.path[current.path.length - 1] = last.text;
        continue;
      }
      if (current.text) sections.push(current);
      while (headings.length && headings[headings.length - 1].level >= block.heading) headings.pop();
      if (block.text !== pageTitle || block.heading === TERM) headings.push({ level: block.heading, text: block.text });
      current = { path: [...root, ...headings.map((h) => h.text)], text: "" };
      previousWasTerm = block.heading === TERM;
      continue;
    }
    previousWasTerm = false;
    current.text = current.text ? `${current.text}\n${block.text}` : block.text;
  }
  if (current.text) sections.push(current);
  return { title: pageTitle, sections, text: lines.join("\n") };
}

// ---------------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------------

/** Markdown stays readable as it is; only link and image targets (URLs) are dropped. */
export function markdownToText(markdown: string): string {
  return markdown.replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\[([^\]]+)\]\([^)]*\)/g, "$1");
}

/**
 * Markdown as sections under their ATX ("## Title") and setext (underlined) headings; lines in fenced
 * code blocks are never headings. The title is the first level-1 heading.
 */
export function markdownToDocument(markdown: string): { title: string | null; sections: DocumentSection[]; text: string } {
  const text = markdownToText(markdown);
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const sections: DocumentSection[] = [];
  const headings: { level: number; text: string }[] = [];
  let current: DocumentSection = { path: [], text: "" };
  let title: string | null = null;
  let fence: string | null = null;
  const add = (line: string) => (current.text = current.text ? `${current.text}\n${line}` : line);
  const open = (level: number, heading: string) => {
    if (current.text.trim()) sections.push({ ...current, text: current.text.trim() });
    while (headings.length && headings[headings.length - 1].level >= level) headings.pop();
    headings.push({ level, text: heading });
    if (level === 1 && title === null) title = heading;
    current = { path: headings.map((h) => h.text), text: "" };
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fenceMark = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fenceMark && (fence === null || fenceMark[0] === fence[0])) {
      fence = fence === null ? fenceMark : null;
      add(line);
      continue;
    }
    if (fence !== null) {
      add(line);
      continue;
    }
    const atx = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (atx && atx[2]) {
      open(atx[1].length, atx[2]);
      continue;
    }
    const underline = lines[i + 1];
    if (line.trim() && underline !== undefined && /^\s{0,3}(=+|-+)\s*$/.test(underline) && !/^\s*([-*+]\s|>)/.test(line)) {
      open(underline.trim()[0] === "=" ? 1 : 2, line.trim());
      i++;
      continue;
    }
    add(line);
  }
  if (current.text.trim()) sections.push({ ...current, text: current.text.trim() });
  return { title, sections, text };
}

// ---------------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------------

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
