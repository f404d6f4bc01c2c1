import "server-only";
// Resumable uploads (the tus protocol, served by @tus/server with @tus/file-store): each file or archive
// of a dataset is staged on disk, in a folder of its uploader's own, before the dataset is made from it.
// The bytes go to disk as they arrive (a PATCH is never held in memory) and stop at the declared length
// and at DATASET_LIMITS.maxUploadBytes; a dropped connection resumes from the offset the server reports.
// A wallet's uploads are invisible to every other wallet (another folder, so another store). Staged files
// are deleted once a dataset is made from them, and after STAGING_EXPIRY_MS when abandoned.
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";
import { getDb } from "@/lib/db";
import { withAdvisoryLock } from "@/lib/db-client";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";

export const UPLOADS_PATH = "/api/uploads";
export const STAGING_EXPIRY_MS = 24 * 3600 * 1000;
/** Everything one wallet may have staged at once. */
const MAX_STAGED_BYTES = 2 * DATASET_LIMITS.maxUploadBytes;
const MAX_STAGED_UPLOADS = DATASET_LIMITS.maxFiles;
const UPLOAD_ID = /^[0-9a-f]{32}$/;

interface Staging {
  store: FileStore;
  server: Server;
}

const byWallet = new Map<string, Staging>();
let lastSweep = 0;

function walletDir(wallet: string): string {
  return path.join(path.resolve(serverEnv().UPLOAD_DIR), wallet.toLowerCase());
}

/**
 * Bytes and uploads a wallet has staged: each upload counts its declared length (what it may still grow
 * to, from the `.json` @tus/file-store keeps beside it), or its bytes on disk when no length was declared.
 */
async function stagedTotals(directory: string): Promise<{ bytes: number; uploads: number }> {
  const names = await readdir(directory).catch(() => [] as string[]);
  let bytes = 0;
  let uploads = 0;
  for (const name of names) {
    if (!UPLOAD_ID.test(name)) continue;
    uploads += 1;
    const declared = await readFile(path.join(directory, `${name}.json`), "utf8")
      .then((text) => Number((JSON.parse(text) as { size?: number }).size))
      .catch(() => NaN);
    bytes += Number.isFinite(declared) ? declared : await stat(path.join(directory, name)).then((s) => s.size, () => 0);
  }
  return { bytes, uploads };
}

function stagingOf(wallet: string): Staging {
  const key = wallet.toLowerCase();
  let staging = byWallet.get(key);
  if (staging) return staging;
  const directory = walletDir(wallet);
  const store = new FileStore({ directory, expirationPeriodInMilliseconds: STAGING_EXPIRY_MS });
  const server = new Server({
    path: UPLOADS_PATH,
    datastore: store,
    relativeLocation: true,
    maxSize: DATASET_LIMITS.maxUploadBytes,
    namingFunction: () => randomBytes(16).toString("hex"),
    async onUploadCreate(_request, upload) {
      const staged = await stagedTotals(directory);
      if (staged.uploads >= MAX_STAGED_UPLOADS) {
        throw { status_code: 429, body: `You have ${staged.uploads} uploads waiting; make a dataset from them (or wait a day for them to expire) first.` };
      }
      if (staged.bytes + (upload.size ?? 0) > MAX_STAGED_BYTES) {
        throw { status_code: 413, body: `Your waiting uploads would exceed ${formatBytes(MAX_STAGED_BYTES)}; make a dataset from them first.` };
      }
      return {};
    },
  });
  staging = { store, server };
  byWallet.set(key, staging);
  return staging;
}

/** Delete every wallet's abandoned uploads, at most every ten minutes. */
async function sweepExpired(): Promise<void> {
  if (Date.now() - lastSweep < 600_000) return;
  lastSweep = Date.now();
  const root = path.resolve(serverEnv().UPLOAD_DIR);
  const wallets = await readdir(root).catch(() => [] as string[]);
  for (const wallet of wallets) {
    if (!/^0x[0-9a-f]{40}$/.test(wallet)) continue;
    await stagingOf(wallet).store.deleteExpired().catch(() => 0);
  }
}

/** Longest a creation waits for its wallet's earlier ones (each takes milliseconds: two small files). */
const CREATION_LOCK_WAIT_MS = 10_000;

/** Serve one tus request (POST creates, HEAD reports the offset, PATCH appends, DELETE cancels). */
export async function handleUploadRequest(wallet: string, request: Request): Promise<Response> {
  const staging = stagingOf(wallet);
  if (request.method !== "POST") return staging.server.handleWeb(request);
  void sweepExpired();
  // An upload counts against its wallet's quota by its declared length: one that defers its length would
  // count as nothing until its bytes arrive, so every upload must declare it.
  if (request.headers.get("upload-defer-length") !== null || request.headers.get("upload-length") === null) {
    return tusRefusal(400, "Declare the upload's length (Upload-Length): uploads of a length given later are not accepted.");
  }
  // A creation carries no bytes (they come in PATCH requests), so the wallet's lock below is held for
  // milliseconds, never while a client trickles a body in.
  if (Number(request.headers.get("content-length") ?? "0") > 0 || request.headers.get("transfer-encoding") !== null) {
    return tusRefusal(400, "Create the upload without data, then send its bytes with PATCH requests.");
  }
  // A wallet's creations run one after another, on every app server sharing UPLOAD_DIR: the quota check
  // reads the uploads on disk, so creations racing each other (to one server or to several) would all
  // pass it before any of them is written. The lock is a PostgreSQL advisory lock.
  const lockKey = `kip-upload-create:${wallet.toLowerCase()}`;
  return withAdvisoryLock(getDb(), lockKey, CREATION_LOCK_WAIT_MS, () => staging.server.handleWeb(request));
}

function tusRefusal(status: number, message: string): Response {
  return new Response(message, { status, headers: { "Tus-Resumable": "1.0.0", "Content-Type": "text/plain; charset=utf-8" } });
}

export interface StagedFile {
  id: string;
  /** The name the browser gave it (tus metadata `filename`). */
  name: string;
  path: string;
  size: number;
}

/** A wallet's completed uploads by id, in the order given; a missing or unfinished one is an error. */
export async function stagedFiles(wallet: string, ids: readonly string[]): Promise<StagedFile[]> {
  const { store } = stagingOf(wallet);
  const files: StagedFile[] = [];
  for (const id of ids) {
    if (!UPLOAD_ID.test(id)) throw new AppError("bad_request", `Invalid request: uploads: ${id.slice(0, 40)} is not an upload id.`);
    const upload = await store.getUpload(id).catch(() => null);
    if (!upload) throw new AppError("bad_request", `Upload ${id} was not found: it may have expired. Upload the file again.`);
    const name = (upload.metadata?.filename ?? "").trim() || "untitled";
    if (upload.size === undefined || upload.offset !== upload.size) {
      throw new AppError("bad_request", `${name} has not finished uploading (${formatBytes(upload.offset)} of ${upload.size === undefined ? "?" : formatBytes(upload.size)}).`);
    }
    files.push({ id, name, path: path.join(walletDir(wallet), id), size: upload.size });
  }
  return files;
}

/** Delete staged uploads (their dataset has been made). */
export async function discardStaged(wallet: string, ids: readonly string[]): Promise<void> {
  const { store } = stagingOf(wallet);
  for (const id of ids) if (UPLOAD_ID.test(id)) await store.remove(id).catch(() => undefined);
}
