// The documents inside an upload: a single file is one document; an archive (.zip through yauzl, .tar
// and .tar.gz through tar-stream and zlib) is read entry by entry from disk, never whole into memory, and
// every entry is checked before its bytes are used. An entry that fails a check is refused on its own
// (with a message naming it) and nothing of it is kept; the archive's other entries carry on. Refused:
//   - paths that are absolute ("/etc/passwd", "C:\..."), climb out ("../evil.txt") or hold NUL bytes;
//   - links (symlinks and hard links), devices and anything else that is not a plain file;
//   - encrypted entries;
//   - entries over the per-document size, or compressed more than ARCHIVE_LIMITS.maxRatio to one;
//   - archives nested deeper than ARCHIVE_LIMITS.maxNesting.
// An archive whose entries unpack to more than maxUnpackedBytes, or that lists more than maxEntries, stops
// there: what was read before is kept, the rest is refused in one message (a zip bomb's total).
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import yauzl from "yauzl";
import { archiveKindOf, type ArchiveKind } from "./detect";
import { ARCHIVE_LIMITS, DATASET_LIMITS, formatBytes, type ArchiveLimits } from "./limits";

export type UploadItem =
  | { kind: "document"; name: string; content: Uint8Array }
  | { kind: "refused"; name: string; message: string };

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { ...ARCHIVE_LIMITS, maxEntryBytes: DATASET_LIMITS.maxFileBytes };

/** Bytes unpacked so far by one top-level archive and the archives inside it. */
interface Budget {
  unpacked: number;
  entries: number;
}

class ArchiveStop extends Error {}

/** Why an entry's path cannot be used, or null. Backslashes count as separators (archives made on Windows). */
export function entryPathProblem(path: string): string | null {
  if (path.includes("\u0000")) return "its name holds a NUL byte";
  const normal = path.replace(/\\/g, "/");
  if (normal.startsWith("/") || /^[a-zA-Z]:/.test(normal)) return "it has an absolute path";
  if (normal.split("/").includes("..")) return "its path climbs out of the archive (..)";
  return null;
}

/** Operating-system clutter that is skipped without a word (macOS resource forks, Finder files). */
function isClutter(path: string): boolean {
  const parts = path.split("/");
  const base = parts[parts.length - 1];
  return parts.includes("__MACOSX") || base === ".DS_Store" || base.startsWith("._") || base === "Thumbs.db";
}

function cleanPath(path: string): string {
  return path
    .replace(/\\/g, "/")
    .split("/")
    .filter((part) => part !== "" && part !== ".")
    .join("/");
}

const refused = (name: string, message: string): UploadItem => ({ kind: "refused", name, message: `${name}: ${message}` });

/** The documents of one uploaded file on disk (an archive's entries, or the file itself). */
export async function* readUpload(name: string, path: string, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): AsyncGenerator<UploadItem> {
  const head = new Uint8Array(512);
  const file = await open(path, "r");
  let read: number;
  try {
    ({ bytesRead: read } = await file.read(head, 0, head.length, 0));
  } finally {
    await file.close();
  }
  const kind = archiveKindOf(head.subarray(0, read));
  if (!kind) {
    const { size } = await stat(path);
    if (size > limits.maxEntryBytes) {
      yield { kind: "refused", name, message: `${name} is ${formatBytes(size)}; each file may be at most ${formatBytes(limits.maxEntryBytes)}.` };
      return;
    }
    yield { kind: "document", name, content: await readAll(createReadStream(path), limits.maxEntryBytes) };
    return;
  }
  const budget: Budget = { unpacked: 0, entries: 0 };
  yield* readArchive(name, kind, { path }, 0, budget, limits);
}

/** The documents of an archive held in memory (tests, and archives nested in archives). */
export async function* readArchiveBytes(name: string, bytes: Uint8Array, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): AsyncGenerator<UploadItem> {
  const kind = archiveKindOf(bytes.subarray(0, 512));
  if (!kind) throw new Error(`${name} is not an archive`);
  yield* readArchive(name, kind, { bytes }, 0, { unpacked: 0, entries: 0 }, limits);
}

type Source = { path: string } | { bytes: Uint8Array };

async function* readArchive(name: string, kind: ArchiveKind, source: Source, depth: number, budget: Budget, limits: ArchiveLimits): AsyncGenerator<UploadItem> {
  try {
    if (kind === "zip") yield* readZip(name, source, depth, budget, limits);
    else yield* readTar(name, kind === "gzip", source, depth, budget, limits);
  } catch (error) {
    if (error instanceof ArchiveStop) {
      yield { kind: "refused", name, message: error.message };
      return;
    }
    const reason = error instanceof Error ? error.message : String(error);
    yield { kind: "refused", name, message: `${name} could not be read as ${kind === "zip" ? "a zip" : kind === "gzip" ? "a .tar.gz" : "a tar"} archive (${reason}); entries after this point were not read.` };
  }
}

/** Count an entry against the archive's totals; stop the archive when one is exceeded. */
function spend(archive: string, budget: Budget, bytes: number, limits: ArchiveLimits): void {
  budget.unpacked += bytes;
  if (budget.unpacked > limits.maxUnpackedBytes) {
    throw new ArchiveStop(
      `${archive} unpacks to more than ${formatBytes(limits.maxUnpackedBytes)} (a possible archive bomb): the entries after that point were refused.`,
    );
  }
}

function countEntry(archive: string, budget: Budget, limits: ArchiveLimits): void {
  budget.entries += 1;
  if (budget.entries > limits.maxEntries) {
    throw new ArchiveStop(`${archive} lists more than ${limits.maxEntries} entries: the entries after that point were refused.`);
  }
}

/** An entry's bytes, checked and typed: a document, a nested archive read in turn, or a refusal. */
async function* entryItems(
  name: string,
  content: Uint8Array,
  depth: number,
  budget: Budget,
  limits: ArchiveLimits,
): AsyncGenerator<UploadItem> {
  const nested = archiveKindOf(content.subarray(0, 512));
  if (!nested) {
    yield { kind: "document", name, content };
    return;
  }
  if (depth + 1 > limits.maxNesting) {
    yield refused(
      name,
      `an archive inside an archive inside an archive; archives may hold archives only ${limits.maxNesting} level deep. Unpack it and upload its files or a flatter archive.`,
    );
    return;
  }
  yield* readArchive(name, nested, { bytes: content }, depth + 1, budget, limits);
}

async function* readZip(archive: string, source: Source, depth: number, budget: Budget, limits: ArchiveLimits): AsyncGenerator<UploadItem> {
  // decodeStrings off: yauzl would otherwise fail the whole archive on the first unsafe path; names are
  // decoded with its own decoder and checked here, entry by entry.
  const options = { decodeStrings: false, validateEntrySizes: true, strictFileNames: false };
  const zip = "path" in source ? await yauzl.openPromise(source.path, options) : await yauzl.fromBufferPromise(Buffer.from(source.bytes), options);
  try {
    for await (const entry of zip.eachEntry()) {
      countEntry(archive, budget, limits);
      const raw = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const inner = cleanPath(raw);
      const name = `${archive}/${inner || raw}`;
      const pathProblem = entryPathProblem(raw);
      if (pathProblem) {
        yield refused(`${archive}/${raw}`, `refused because ${pathProblem}.`);
        continue;
      }
      if (raw.endsWith("/") || isClutter(inner)) continue;
      const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
      if (mode === 0o120000) {
        yield refused(name, "a symbolic link; archives may hold only plain files.");
        continue;
      }
      if (mode !== 0 && mode !== 0o100000) {
        yield refused(name, "not a plain file; archives may hold only plain files.");
        continue;
      }
      if (entry.isEncrypted()) {
        yield refused(name, "encrypted; upload archives without a password.");
        continue;
      }
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        yield refused(name, `unpacks to ${formatBytes(entry.uncompressedSize)}; each file may be at most ${formatBytes(limits.maxEntryBytes)}.`);
        continue;
      }
      const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
      if (entry.uncompressedSize > limits.ratioFloorBytes && ratio > limits.maxRatio) {
        yield refused(name, `compressed ${Math.round(ratio)} to 1 (more than ${limits.maxRatio} to 1 is refused as a possible zip bomb).`);
        continue;
      }
      if (!entry.canDecodeFileData()) {
        yield refused(name, `uses a compression method (${entry.compressionMethod}) that cannot be read; use deflate or none.`);
        continue;
      }
      spend(archive, budget, entry.uncompressedSize, limits);
      let content: Uint8Array;
      try {
        // validateEntrySizes makes yauzl fail a stream that unpacks to more than the entry declared.
        content = await readAll(await zip.openReadStreamPromise(entry), limits.maxEntryBytes);
      } catch (error) {
        yield refused(name, `could not be unpacked (${error instanceof Error ? error.message : String(error)}).`);
        continue;
      }
      yield* entryItems(name, content, depth, budget, limits);
    }
  } finally {
    zip.close();
  }
}

async function* readTar(archive: string, gzip: boolean, source: Source, depth: number, budget: Budget, limits: ArchiveLimits): AsyncGenerator<UploadItem> {
  const input = "path" in source ? createReadStream(source.path) : Readable.from([Buffer.from(source.bytes)]);
  const extract = tar.extract();
  let packed = 0;
  let unpacked = 0;
  let stop: ArchiveStop | null = null;
  // The decompressed stream is counted as it flows: a .tar.gz of zeros stops at the total, whatever its
  // headers claim, and never holds more than one entry in memory.
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      unpacked += chunk.length;
      if (unpacked > limits.maxUnpackedBytes + limits.maxEntries * 1024 || (gzip && unpacked > 16 * limits.ratioFloorBytes && unpacked / Math.max(packed, 1) > limits.maxRatio)) {
        stop = new ArchiveStop(
          `${archive} unpacks to more than ${gzip && unpacked / Math.max(packed, 1) > limits.maxRatio ? `${limits.maxRatio} times its size` : formatBytes(limits.maxUnpackedBytes)} (a possible archive bomb): the entries after that point were refused.`,
        );
        done(stop);
        return;
      }
      done(null, chunk);
    },
  });
  input.on("data", (chunk: Buffer | string) => {
    packed += chunk.length;
  });
  const fail = (error: Error) => extract.destroy(stop ?? error);
  input.on("error", fail);
  meter.on("error", fail);
  if (gzip) {
    const gunzip = createGunzip();
    gunzip.on("error", fail);
    input.pipe(gunzip).pipe(meter).pipe(extract);
  } else input.pipe(meter).pipe(extract);
  try {
    for await (const entry of extract) {
      countEntry(archive, budget, limits);
      const { header } = entry;
      const raw = header.name;
      const inner = cleanPath(raw);
      const name = `${archive}/${inner || raw}`;
      let item: UploadItem | null = null;
      let content: Uint8Array | null = null;
      const pathProblem = entryPathProblem(raw);
      if (pathProblem) item = refused(`${archive}/${raw}`, `refused because ${pathProblem}.`);
      else if (header.type === "directory" || isClutter(inner)) item = null;
      else if (header.type === "symlink" || header.type === "link") item = refused(name, `a ${header.type === "link" ? "hard" : "symbolic"} link; archives may hold only plain files.`);
      else if (header.type !== "file" && header.type !== "contiguous-file") item = refused(name, `a ${header.type ?? "special entry"}, not a plain file; archives may hold only plain files.`);
      else if ((header.size ?? 0) > limits.maxEntryBytes) {
        item = refused(name, `${formatBytes(header.size ?? 0)}; each file may be at most ${formatBytes(limits.maxEntryBytes)}.`);
      } else {
        spend(archive, budget, header.size ?? 0, limits);
        content = await readAll(entry as unknown as NodeJS.ReadableStream, limits.maxEntryBytes);
      }
      if (content === null) {
        // Skip the entry's bytes without keeping them (the meter still counts them).
        entry.resume();
        await new Promise<void>((resolve, reject) => {
          entry.once("end", resolve);
          entry.once("error", reject);
        });
        if (item) yield item;
        continue;
      }
      yield* entryItems(name, content, depth, budget, limits);
    }
  } catch (error) {
    input.destroy();
    throw stop ?? error;
  }
  if (stop) throw stop;
}

/** A stream's bytes, failing as soon as they pass `max` (the limit holds while reading, not after). */
async function readAll(stream: NodeJS.ReadableStream, max: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      (stream as Readable).destroy?.();
      throw new Error(`it unpacks to more than ${formatBytes(max)}`);
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks, size));
}
