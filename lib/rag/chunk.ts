// Splits a document's text into overlapping chunks along paragraph and sentence boundaries, so that
// a retrieved chunk reads as a passage and can be quoted as a source.
//
// Sizes (CHUNKING in limits.ts): chunks of at most 900 characters (UTF-16 code units), built from whole
// paragraphs; a paragraph longer than that is split at sentence ends (. ! ? ; : and their CJK forms),
// and a sentence longer than that is cut hard, never inside a surrogate pair. Each chunk after the first
// starts with up to 150 characters from the end of the previous one (from a word boundary; text without
// spaces, such as Chinese or Japanese, gets no overlap), so a passage cut at a boundary is still found.

export interface ChunkOptions {
  /** Target chunk length in characters. */
  maxChars?: number;
  /** Characters of the previous chunk repeated at the start of the next. */
  overlapChars?: number;
}

/** Cut `text` into pieces of at most `max` code units without splitting a surrogate pair. */
function hardSplit(text: string, max: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    // A high surrogate at the cut belongs with the low surrogate after it.
    if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1])) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

export function chunkText(text: string, { maxChars = 900, overlapChars = 150 }: ChunkOptions = {}): string[] {
  if (maxChars < 100) throw new Error("maxChars must be at least 100");
  const normalized = text.replace(/\r\n?/g, "\n").replace(/[ \t]+/g, " ").trim();
  if (!normalized) return [];
  // Units: paragraphs/lines, with over-long ones split into sentences, then hard-split as a last resort.
  const units: string[] = [];
  for (const block of normalized.split(/\n+/)) {
    const paragraph = block.trim();
    if (!paragraph) continue;
    if (paragraph.length <= maxChars) {
      units.push(paragraph);
      continue;
    }
    for (const sentence of paragraph.split(/(?<=[.!?;:])\s+|(?<=[。！？；])/u)) {
      units.push(...hardSplit(sentence, maxChars));
    }
  }
  const chunks: string[] = [];
  let current = "";
  for (const unit of units) {
    if (current && current.length + 1 + unit.length > maxChars) {
      chunks.push(current);
      const tail = current.slice(Math.max(0, current.length - overlapChars));
      // Start the overlap at a word boundary.
      const cut = tail.indexOf(" ");
      current = overlapChars > 0 && cut >= 0 ? tail.slice(cut + 1) : "";
    }
    current = current ? `${current}\n${unit}` : unit;
  }
  if (current) chunks.push(current);
  return chunks;
}

/** A chunk of a structured document (extract.ts), with what a citation shows of where it comes from. */
export interface DocumentChunk {
  text: string;
  /** The document's title. */
  title: string;
  /** The heading path of the section the chunk belongs to (outermost first). */
  section: string[];
  /** 1-based page of a PDF. */
  page?: number;
}

/**
 * Chunks of a document that follow its sections: a chunk never spans two sections (or two pages of a
 * PDF), and each carries its section's path and the document's title. Within a section the rules of
 * chunkText apply.
 */
export function chunkDocument(
  document: { title: string; sections: readonly { path: readonly string[]; page?: number; text: string }[] },
  options: ChunkOptions = {},
): DocumentChunk[] {
  const chunks: DocumentChunk[] = [];
  for (const section of document.sections) {
    for (const text of chunkText(section.text, options)) {
      chunks.push({ text, title: document.title, section: [...section.path], ...(section.page !== undefined ? { page: section.page } : {}) });
    }
  }
  return chunks;
}
