import "server-only";
// Licensed files at rest: each file is cut into CHUNK_BYTES pieces, and each piece is sealed on its own
// with AES-256-GCM (lib/crypto.ts, ENCRYPTION_KEY) under associated data that names the file, the piece's
// index and the number of pieces, so a piece moved to another place or file, or a file cut short, fails to
// decrypt instead of serving wrong bytes. A byte range is served by decrypting only the pieces it covers,
// one at a time: neither storing nor serving ever holds a whole file in memory.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { decryptBytes, encryptBytes } from "@/lib/crypto";
import { getDb } from "@/lib/db";

/** Plain bytes per stored piece. */
export const CHUNK_BYTES = 1024 * 1024;

export function licenceChunkAad(fileId: string, index: number, count: number): string {
  return `kip-licence-file:${fileId}:${index}/${count}`;
}

export function chunkCountOf(size: number, chunkBytes = CHUNK_BYTES): number {
  // An empty file is one empty piece, so every file has something to authenticate.
  return Math.max(1, Math.ceil(size / chunkBytes));
}

export interface StoredLicenceFile {
  id: string;
  size: number;
  sha256: string;
}

/** Reads a staged upload from disk piece by piece, sealing and storing each, and returns its SHA-256. */
export async function storeLicenceFile(listingId: string, filePath: string, size: number, encryptionKey: string): Promise<StoredLicenceFile> {
  const db = getDb();
  const id = randomBytes(16).toString("hex");
  const count = chunkCountOf(size);
  await db.licenceFile.create({ data: { id, listingId, size, sha256: "", chunkSize: CHUNK_BYTES, chunkCount: count } });
  const hash = createHash("sha256");
  let index = 0;
  let seen = 0;
  try {
    const store = async (piece: Buffer) => {
      await db.licenceChunk.create({ data: { fileId: id, index, data: new Uint8Array(encryptBytes(piece, encryptionKey, licenceChunkAad(id, index, count))) } });
      index += 1;
    };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const data of createReadStream(filePath, { highWaterMark: CHUNK_BYTES })) {
      const buffer = data as Buffer;
      hash.update(buffer);
      seen += buffer.byteLength;
      pending.push(buffer);
      pendingBytes += buffer.byteLength;
      while (pendingBytes >= CHUNK_BYTES) {
        const all = Buffer.concat(pending);
        await store(all.subarray(0, CHUNK_BYTES));
        const rest = all.subarray(CHUNK_BYTES);
        pending = rest.byteLength ? [rest] : [];
        pendingBytes = rest.byteLength;
      }
    }
    if (pendingBytes > 0 || index === 0) await store(Buffer.concat(pending));
    if (seen !== size || index !== count) throw new Error(`the staged file changed while it was stored (${seen} of ${size} bytes)`);
    const sha256 = hash.digest("hex");
    await db.licenceFile.update({ where: { id }, data: { sha256 } });
    return { id, size, sha256 };
  } catch (error) {
    await db.licenceFile.delete({ where: { id } }).catch(() => undefined);
    throw error;
  }
}

/** An inclusive byte range of a file (`end` >= `start`). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The plain bytes `range` of a stored file as a stream that reads and decrypts one piece per pull, so the
 * response goes out at the client's pace. A piece that fails to decrypt errors the stream.
 */
export function licenceFileStream(
  file: { id: string; chunkSize: number; chunkCount: number },
  range: ByteRange,
  encryptionKey: string,
): ReadableStream<Uint8Array> {
  const db = getDb();
  let index = Math.floor(range.start / file.chunkSize);
  const last = Math.floor(range.end / file.chunkSize);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (index > last) {
        controller.close();
        return;
      }
      const row = await db.licenceChunk.findUnique({ where: { fileId_index: { fileId: file.id, index } }, select: { data: true } });
      if (!row) throw new Error(`piece ${index} of licensed file ${file.id} is missing`);
      const plain = decryptBytes(row.data, encryptionKey, licenceChunkAad(file.id, index, file.chunkCount));
      const pieceStart = index * file.chunkSize;
      const from = Math.max(range.start - pieceStart, 0);
      const to = Math.min(range.end - pieceStart + 1, plain.byteLength);
      controller.enqueue(new Uint8Array(plain.subarray(from, to)));
      index += 1;
    },
  }, { highWaterMark: 0 });
}
