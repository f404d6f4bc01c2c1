// Splits a document's text into overlapping chunks along paragraph and sentence boundaries, so that
// a retrieved chunk reads as a passage and can be quoted as a source.

export interface ChunkOptions {
  /** Target chunk length in characters. */
  maxChars?: number;
  /** Characters of the previous chunk repeated at the start of the next. */
  overlapChars?: number;
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
    for (const sentence of paragraph.split(/(?<=[.!?;:])\s+/)) {
      for (let i = 0; i < sentence.length; i += maxChars) units.push(sentence.slice(i, i + maxChars));
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
