// Archive entries, checked one by one: the attacks are refused with a message naming the entry, and the
// good entries beside them are kept.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_ARCHIVE_LIMITS, readArchiveBytes, readUpload, type UploadItem } from "@/lib/rag/archive";
import type { ArchiveLimits } from "@/lib/rag/limits";
import { makeTar, makeTarGz, makeZip } from "../helpers/archives";

async function collect(items: AsyncIterable<UploadItem>) {
  const documents: Record<string, string> = {};
  const refused: Record<string, string> = {};
  for await (const item of items) {
    if (item.kind === "document") documents[item.name] = new TextDecoder().decode(item.content);
    else refused[item.name] = item.message;
  }
  return { documents, refused };
}

const dir = mkdtempSync(path.join(tmpdir(), "kip-archive-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("zip entries", () => {
  it("keeps the good pages under their paths", async () => {
    const zip = await makeZip([
      { name: "manual/page-001.txt", content: "First page." },
      { name: "manual/page-002.md", content: "# Second" },
      { name: "__MACOSX/._page-001.txt", content: "clutter" },
    ]);
    const file = path.join(dir, "manual.zip");
    writeFileSync(file, zip);
    expect(await collect(readUpload("manual.zip", file))).toEqual({
      documents: { "manual.zip/manual/page-001.txt": "First page.", "manual.zip/manual/page-002.md": "# Second" },
      refused: {},
    });
  });

  it("refuses ../, absolute paths, symlinks and encrypted entries, each on its own", async () => {
    const zip = await makeZip([
      { name: "good.txt", content: "Good text." },
      { name: "xx/evil.txt", rawName: "../evil.txt", content: "climbs out" },
      { name: "xetc/passwd", rawName: "/etc/passwd", content: "root:x:0:0" },
      { name: "link.txt", content: "/etc/shadow", mode: 0o120777 },
      { name: "secret.txt", content: "hidden", encrypted: true },
      { name: "also-good.txt", content: "Also good." },
    ]);
    const { documents, refused } = await collect(readArchiveBytes("a.zip", zip));
    expect(documents).toEqual({ "a.zip/good.txt": "Good text.", "a.zip/also-good.txt": "Also good." });
    expect(refused).toEqual({
      "a.zip/../evil.txt": expect.stringMatching(/climbs out of the archive/),
      "a.zip//etc/passwd": expect.stringMatching(/absolute path/),
      "a.zip/link.txt": expect.stringMatching(/symbolic link/),
      "a.zip/secret.txt": expect.stringMatching(/encrypted/),
    });
  });

  it("refuses a zip bomb by ratio, by entry size and by total", async () => {
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const zip = await makeZip([
      { name: "bomb.txt", content: zeros },
      { name: "huge.txt", content: new Uint8Array(DEFAULT_ARCHIVE_LIMITS.maxEntryBytes + 1) },
      { name: "fine.txt", content: "Fine." },
    ]);
    const { documents, refused } = await collect(readArchiveBytes("bomb.zip", zip));
    expect(documents).toEqual({ "bomb.zip/fine.txt": "Fine." });
    expect(refused["bomb.zip/bomb.txt"]).toMatch(/compressed \d+ to 1 .*zip bomb/);
    expect(refused["bomb.zip/huge.txt"]).toMatch(/unpacks to 5\.0 MB; each file may be at most 5\.0 MB/);

    // Entries that each pass, but together unpack to more than the archive's total.
    const limits: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, maxUnpackedBytes: 2500 };
    const many = await makeZip(Array.from({ length: 5 }, (_, i) => ({ name: `p${i}.txt`, content: `${i}`.repeat(1000), compress: false })));
    const total = await collect(readArchiveBytes("many.zip", many, limits));
    expect(Object.keys(total.documents)).toEqual(["many.zip/p0.txt", "many.zip/p1.txt"]);
    expect(total.refused["many.zip"]).toMatch(/unpacks to more than 2\.4 KB \(a possible archive bomb\)/);
  });

  it("reads a zip inside a zip, and refuses a zip inside a zip inside a zip", async () => {
    const innermost = await makeZip([{ name: "deep.txt", content: "too deep" }]);
    const inner = await makeZip([
      { name: "inner.txt", content: "One level down." },
      { name: "innermost.zip", content: innermost },
    ]);
    const outer = await makeZip([
      { name: "outer.txt", content: "Top." },
      { name: "inner.zip", content: inner },
    ]);
    const { documents, refused } = await collect(readArchiveBytes("outer.zip", outer));
    expect(documents).toEqual({ "outer.zip/outer.txt": "Top.", "outer.zip/inner.zip/inner.txt": "One level down." });
    expect(refused).toEqual({ "outer.zip/inner.zip/innermost.zip": expect.stringMatching(/only 1 level deep/) });
  });
});

describe("tar and .tar.gz entries", () => {
  it("refuses symlinks, hard links, ../ and absolute paths; keeps the files", async () => {
    const entries = [
      { name: "docs/", type: "directory" as const },
      { name: "docs/a.txt", content: "Alpha." },
      { name: "docs/passwd", type: "symlink" as const, linkname: "/etc/passwd" },
      { name: "docs/hard", type: "link" as const, linkname: "docs/a.txt" },
      { name: "../evil.txt", content: "climbs out" },
      { name: "/etc/cron.d/job", content: "* * * * * root sh" },
      { name: "docs/b.txt", content: "Beta." },
    ];
    for (const [name, bytes] of [
      ["t.tar", await makeTar(entries)],
      ["t.tar.gz", await makeTarGz(entries)],
    ] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      const { documents, refused } = await collect(readUpload(name, file));
      expect(documents).toEqual({ [`${name}/docs/a.txt`]: "Alpha.", [`${name}/docs/b.txt`]: "Beta." });
      expect(refused).toEqual({
        [`${name}/docs/passwd`]: expect.stringMatching(/symbolic link/),
        [`${name}/docs/hard`]: expect.stringMatching(/hard link/),
        [`${name}/../evil.txt`]: expect.stringMatching(/climbs out/),
        [`${name}//etc/cron.d/job`]: expect.stringMatching(/absolute path/),
      });
    }
  });

  it("stops a .tar.gz bomb while it unpacks", async () => {
    // 64 MB of zeros in one entry gzips to about 64 KB: the ratio stops it long before the end.
    const file = path.join(dir, "bomb.tar.gz");
    writeFileSync(file, await makeTarGz([{ name: "ok.txt", content: "Kept." }, { name: "zeros.txt", content: new Uint8Array(64 * 1024 * 1024) }]));
    const { documents, refused } = await collect(readUpload("bomb.tar.gz", file));
    expect(documents).toEqual({ "bomb.tar.gz/ok.txt": "Kept." });
    expect(Object.values(refused).join(" ")).toMatch(/possible archive bomb|each file may be at most/);
  });

  it("a single file that is not an archive is one document", async () => {
    const file = path.join(dir, "note.txt");
    writeFileSync(file, "Just a note.");
    expect(await collect(readUpload("note.txt", file))).toEqual({ documents: { "note.txt": "Just a note." }, refused: {} });
  });
});
