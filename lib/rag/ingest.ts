// Turns an uploaded document into searchable chunks: extract text, split, embed, store.
import { createHash } from "node:crypto";
import type { Db } from "@/lib/db-client";
import { chunkText } from "./chunk";
import { embed, embeddingToBytes } from "./embed";

export const SUPPORTED_TYPES: Record<string, string> = {
  "text/plain": ".txt",
  "text/markdown": ".md",
  "text/csv": ".csv",
  "application/json": ".json",
};

export const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;

export interface DocumentInput {
  filename: string;
  mimeType: string;
  content: Uint8Array;
}

/** Decode a document as UTF-8 text; rejects binary files. */
export function extractText(input: DocumentInput): string {
  if (!(input.mimeType in SUPPORTED_TYPES)) {
    throw new Error(`Unsupported file type "${input.mimeType}" for ${input.filename}: use ${Object.values(SUPPORTED_TYPES).join(", ")}`);
  }
  if (input.content.byteLength > MAX_DOCUMENT_BYTES) {
    throw new Error(`${input.filename} is ${input.content.byteLength} bytes; the limit is ${MAX_DOCUMENT_BYTES}`);
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(input.content);
  if (text.includes("\u0000")) throw new Error(`${input.filename} looks binary, not text`);
  return text;
}

export function sha256Hex(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/** Store one document of a dataset with its chunks and embeddings; returns the number of chunks. */
export async function indexDocument(db: Db, datasetId: string, input: DocumentInput): Promise<{ documentId: string; chunks: number }> {
  const text = extractText(input);
  const pieces = chunkText(text);
  if (pieces.length === 0) throw new Error(`${input.filename} has no text to index`);
  return db.$transaction(async (tx) => {
    const document = await tx.document.create({
      data: {
        datasetId,
        filename: input.filename,
        mimeType: input.mimeType,
        bytes: input.content.byteLength,
        sha256: sha256Hex(input.content),
        content: Buffer.from(input.content),
      },
    });
    await tx.chunk.createMany({
      data: pieces.map((piece, position) => ({
        datasetId,
        documentId: document.id,
        position,
        text: piece,
        embedding: Buffer.from(embeddingToBytes(embed(piece))),
      })),
    });
    await tx.dataset.update({ where: { listingId: datasetId }, data: { indexVersion: { increment: 1 } } });
    return { documentId: document.id, chunks: pieces.length };
  });
}
