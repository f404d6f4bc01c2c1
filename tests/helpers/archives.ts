// Test archives built in code: zips through yazl (with raw byte edits for what yazl refuses to write:
// unsafe paths and the encryption flag), tars and .tar.gz through tar-stream and zlib.
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import yazl from "yazl";

export interface ZipEntry {
  name: string;
  content: Uint8Array | string;
  /** Unix mode (e.g. 0o120777 for a symlink). */
  mode?: number;
  compress?: boolean;
  /** Set the "encrypted" flag (bit 0) in the entry's headers. */
  encrypted?: boolean;
  /** Write this name into the archive as is (may be absolute or climb out); `name` must have its length. */
  rawName?: string;
}

export async function makeZip(entries: ZipEntry[]): Promise<Uint8Array> {
  const zip = new yazl.ZipFile();
  for (const entry of entries) {
    const content = typeof entry.content === "string" ? Buffer.from(entry.content) : Buffer.from(entry.content);
    zip.addBuffer(content, entry.name, { mode: entry.mode ?? 0o100644, compress: entry.compress ?? true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    // Local header (PK\3\4: name at +30, flags at +6) and central directory header (PK\1\2: name at +46, flags at +8).
    for (const [signature, nameAt, flagsAt] of [
      [0x04034b50, 30, 6],
      [0x02014b50, 46, 8],
    ] as const) {
      for (let at = bytes.indexOf(name); at >= 0; at = bytes.indexOf(name, at + 1)) {
        const start = at - nameAt;
        if (start < 0 || bytes.readUInt32LE(start) !== signature) continue;
        if (entry.rawName) Buffer.from(entry.rawName).copy(bytes, at);
        if (entry.encrypted) bytes.writeUInt16LE(bytes.readUInt16LE(start + flagsAt) | 1, start + flagsAt);
      }
    }
  }
  return new Uint8Array(bytes);
}

export interface TarEntry {
  name: string;
  content?: Uint8Array | string;
  type?: "file" | "symlink" | "link" | "directory";
  linkname?: string;
}

export async function makeTar(entries: TarEntry[]): Promise<Uint8Array> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  })();
  for (const entry of entries) {
    const content = entry.content === undefined ? undefined : typeof entry.content === "string" ? Buffer.from(entry.content) : Buffer.from(entry.content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: entry.name, type: entry.type ?? "file", linkname: entry.linkname, size: content?.length ?? 0 }, content ?? Buffer.alloc(0), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }
  pack.finalize();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

export async function makeTarGz(entries: TarEntry[]): Promise<Uint8Array> {
  return new Uint8Array(gzipSync(await makeTar(entries)));
}
