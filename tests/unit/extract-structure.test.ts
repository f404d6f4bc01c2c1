// Extraction by structure (lib/rag/extract.ts, lib/rag/chunk.ts): HTML's main content without the
// page furniture, headings as each passage's section path, PDF page numbers, and chunks that follow
// sections and carry their title and section.
import { describe, expect, it } from "vitest";
import { chunkDocument } from "@/lib/rag/chunk";
import { citationLabel, extractDocument, extractDocumentText, htmlToDocument, markdownToDocument } from "@/lib/rag/extract";
import { makePdf } from "../helpers/pdf";

const utf8 = (text: string) => new TextEncoder().encode(text);

// The shape of a DocBook manual page (PostgreSQL's HTML documentation).
const manualPage = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>20.4. Resource Consumption</title>
<link rel="prev" href="runtime-config-connection.html" title="20.3. Connections and Authentication" /></head>
<body><div class="navheader"><table width="100%" summary="Navigation header"><tr><th colspan="5" align="center">20.4. Resource Consumption</th></tr>
<tr><td><a accesskey="p" href="runtime-config-connection.html" title="20.3. Connections and Authentication">Prev</a> </td>
<td><a accesskey="u" href="runtime-config.html" title="Chapter 20. Server Configuration">Up</a></td>
<th width="60%" align="center">Chapter 20. Server Configuration</th><td><a accesskey="h" href="index.html">Home</a></td>
<td><a accesskey="n" href="runtime-config-wal.html">Next</a></td></tr></table><hr /></div>
<div class="sect1"><div class="titlepage"><h2 class="title">20.4. Resource Consumption</h2></div>
<div class="toc"><dl class="toc"><dt><a href="#MEMORY">20.4.1. Memory</a></dt><dt><a href="#DISK">20.4.2. Disk</a></dt></dl></div>
<div class="sect2" id="MEMORY"><h3 class="title">20.4.1. Memory</h3><dl class="variablelist">
<dt id="GUC-SHARED-BUFFERS"><code class="varname">shared_buffers</code> (<code>integer</code>)</dt>
<dd><p>Sets the amount of memory the database server uses for shared
        memory buffers.  The default is typically 128 megabytes
        (<code>128MB</code>).</p></dd></dl></div>
<div class="sect2" id="DISK"><h3 class="title">20.4.2. Disk</h3><p>temp_file_limit sets the disk space for temporary files.</p></div></div>
<div class="navfooter"><table summary="Navigation footer"><tr><td><a href="runtime-config-connection.html">Prev</a></td><td><a href="runtime-config.html">Up</a></td><td><a href="runtime-config-wal.html">Next</a></td></tr>
<tr><td>20.3. Connections and Authentication</td><td><a href="index.html">Home</a></td><td>20.5. Write Ahead Log</td></tr></table></div></body></html>`;

describe("HTML: main content without the page furniture", () => {
  it("drops DocBook navigation headers and footers and the table of contents", async () => {
    const text = await extractDocumentText("runtime-config-resource.html", utf8(manualPage));
    expect(text).toContain("Sets the amount of memory the database server uses for shared memory buffers.");
    expect(text).not.toMatch(/\bPrev\b|\bNext\b|\bHome\b|Up\b/);
    expect(text).not.toContain("Connections and Authentication");
    expect(text).not.toContain("Write Ahead Log");
    // The table of contents would repeat each heading: each appears once, as its heading.
    expect(text.split("20.4.1. Memory").length - 1).toBe(1);
  });

  it("joins the source's line breaks inside a paragraph", async () => {
    const text = await extractDocumentText("page.html", utf8(manualPage));
    expect(text).toContain("for shared memory buffers. The default is typically 128 megabytes (128MB).");
  });

  it("drops <nav>, <header>, <footer>, <aside> and navigation roles, and keeps only <main> when the page has one", () => {
    const page = `<html><head><title>Guide</title></head><body>
      <header class="site-header"><a href="/">Home</a> <a href="/docs">Docs</a></header>
      <nav><ul><li><a href="/a">Chapter A</a></li><li><a href="/b">Chapter B</a></li></ul></nav>
      <div role="navigation">Breadcrumbs: Docs / Guide</div>
      <div class="banner-area">Sign up for the newsletter</div>
      <main><article><header><h1>Installing</h1></header><p>Run the installer as root.</p></article></main>
      <aside>Related: Uninstalling</aside>
      <footer>© 2026 Example Corp · Privacy</footer></body></html>`;
    const { text, title } = htmlToDocument(page);
    expect(title).toBe("Guide");
    expect(text).toBe("Installing\nRun the installer as root.");
  });

  it("keeps a table's cells apart and its rows on lines of their own", () => {
    // DocBook writes cells with no space between them: "NameStorage Size" would be one word.
    const page = `<html><body><main><table><thead><tr><th>Name</th><th>Storage Size</th><th>Range</th></tr></thead>
      <tbody><tr><td><code>smallint</code></td><td>2 bytes</td><td>-32768 to +32767</td></tr><tr><td></td><td>none</td><td> </td></tr></tbody></table></main></body></html>`;
    expect(htmlToDocument(page).text).toBe("Name | Storage Size | Range\nsmallint | 2 bytes | -32768 to +32767\nnone");
  });
});

describe("HTML and Markdown: headings as section paths", () => {
  it("HTML: each passage under its heading path, the parent page from the Up link first, a definition under its term", async () => {
    const doc = await extractDocument("runtime-config-resource.html", utf8(manualPage));
    expect(doc.title).toBe("20.4. Resource Consumption");
    expect(doc.sections.map((s) => s.path)).toEqual([
      ["Chapter 20. Server Configuration", "20.4. Resource Consumption", "20.4.1. Memory", "shared_buffers (integer)"],
      ["Chapter 20. Server Configuration", "20.4. Resource Consumption", "20.4.2. Disk"],
    ]);
    expect(doc.sections[0].text).toMatch(/^Sets the amount of memory/);
    expect(doc.sections[1].text).toBe("temp_file_limit sets the disk space for temporary files.");
  });

  it("Markdown: ATX and setext headings nest; a # inside a code fence is not a heading", async () => {
    const markdown = [
      "# Server Configuration",
      "Intro text.",
      "## Resource Consumption",
      "### Memory",
      "shared_buffers sets the memory.",
      "```sh",
      "# not a heading",
      "```",
      "### Disk",
      "temp_file_limit sets the disk.",
      "Logging",
      "-------",
      "log_destination sets where logs go.",
    ].join("\n");
    const doc = await extractDocument("config.md", utf8(markdown));
    expect(doc.title).toBe("Server Configuration");
    expect(doc.sections.map((s) => s.path)).toEqual([
      ["Server Configuration"],
      ["Server Configuration", "Resource Consumption", "Memory"],
      ["Server Configuration", "Resource Consumption", "Disk"],
      ["Server Configuration", "Logging"],
    ]);
    expect(doc.sections[1].text).toContain("# not a heading");
    expect(markdownToDocument("no headings here").sections).toEqual([{ path: [], text: "no headings here" }]);
  });
});

describe("PDF: page numbers", () => {
  it("keeps each page's number with its text", async () => {
    const pdf = makePdf([["All warfare is based on deception."], [], ["Hence, when able to attack, we must seem unable."]]);
    const doc = await extractDocument("war.pdf", pdf);
    expect(doc.sections).toEqual([
      { path: [], page: 1, text: "All warfare is based on deception." },
      { path: [], page: 3, text: "Hence, when able to attack, we must seem unable." },
    ]);
    expect(doc.title).toBe("war.pdf");
    const [first, second] = chunkDocument(doc);
    expect([first.page, second.page]).toEqual([1, 3]);
  });
});

describe("chunks follow sections and carry title and section", () => {
  it("never spans two sections, and each chunk names its section and title", async () => {
    const doc = await extractDocument("runtime-config-resource.html", utf8(manualPage));
    const chunks = chunkDocument(doc, { maxChars: 900, overlapChars: 150 });
    expect(chunks).toHaveLength(2);
    expect(chunks[0]).toMatchObject({
      title: "20.4. Resource Consumption",
      section: ["Chapter 20. Server Configuration", "20.4. Resource Consumption", "20.4.1. Memory", "shared_buffers (integer)"],
    });
    expect(chunks[0].text).not.toContain("temp_file_limit");
    expect(chunks[1].text).not.toContain("shared_buffers");
  });

  it("splits a long section into several chunks, all with its path", () => {
    const long = Array.from({ length: 30 }, (_, i) => `Sentence ${i} about memory settings and their defaults.`).join(" ");
    const chunks = chunkDocument({ title: "Manual", sections: [{ path: ["A", "B"], text: long }, { path: ["A", "C"], text: "Short." }] }, { maxChars: 300, overlapChars: 50 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.slice(0, -1).every((c) => c.section.join("/") === "A/B")).toBe(true);
    expect(chunks.at(-1)).toEqual({ text: "Short.", title: "Manual", section: ["A", "C"] });
  });

  it('labels a citation "title › section" without repeating the title', () => {
    expect(citationLabel("PostgreSQL 15 Documentation", ["20. Server Configuration", "20.4 Resource Consumption"])).toBe(
      "PostgreSQL 15 Documentation › 20. Server Configuration › 20.4 Resource Consumption",
    );
    expect(citationLabel("20.4. Resource Consumption", ["Chapter 20. Server Configuration", "20.4. Resource Consumption", "20.4.1. Memory"])).toBe(
      "Chapter 20. Server Configuration › 20.4. Resource Consumption › 20.4.1. Memory",
    );
    expect(citationLabel("Server Configuration", ["Server Configuration", "Logging"])).toBe("Server Configuration › Logging");
    expect(citationLabel("notes.txt", [])).toBe("notes.txt");
  });
});
