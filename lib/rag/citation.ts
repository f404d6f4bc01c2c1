// How a citation names where a passage comes from: the document's title and the passage's section path
// ("Chapter 20. Server Configuration › 20.4. Resource Consumption"), and a PDF's page. No server imports:
// the chat page and the API both use it.

/** Separator of a section path, as citations show it (and as Chunk.section stores the path). */
export const SECTION_SEPARATOR = " › ";

/** How a citation names a passage: "title › section path", without repeating the title. */
export function citationLabel(title: string, path: readonly string[]): string {
  const rest = path[0] === title ? path.slice(1) : path;
  return rest.includes(title) || rest.length === 0 ? (rest.length ? rest.join(SECTION_SEPARATOR) : title) : [title, ...rest].join(SECTION_SEPARATOR);
}

/** A retrieved passage's citation: its title and section, the file name when it has no title, and its page. */
export function passageCitation(passage: { documentName: string; documentTitle: string; section: readonly string[]; page: number | null }): string {
  const label = citationLabel(passage.documentTitle || passage.documentName, passage.section);
  return passage.page !== null ? `${label}, p. ${passage.page}` : label;
}
