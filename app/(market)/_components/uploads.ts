// Sending dataset files from the browser: the server's own checks run as a file is added (size, then
// type by content, lib/rag/detect.ts), and each file goes up with the tus resumable protocol
// (tus-js-client against /api/uploads). Used by the new-dataset form and by a listed dataset's tools.
import * as tus from "tus-js-client";
import { archiveKindOf, detectDocument } from "@/lib/rag/detect";
import { DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";

/**
 * What the server would refuse a file for, checked in the browser as it is added: its size, then its type
 * by content (the server's own check, lib/rag/detect.ts). Null when it looks fine; a PDF's text layer is
 * checked only on the server.
 */
export async function checkFile(file: File): Promise<string | null> {
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.size > DATASET_LIMITS.maxUploadBytes) return `${file.name} is over ${formatBytes(DATASET_LIMITS.maxUploadBytes)}.`;
  // An archive's entries are checked one by one on the server, as it is unpacked.
  if (archiveKindOf(new Uint8Array(await file.slice(0, 512).arrayBuffer()))) return null;
  if (file.size > DATASET_LIMITS.maxFileBytes) return `${file.name} is over ${formatBytes(DATASET_LIMITS.maxFileBytes)}.`;
  try {
    detectDocument(file.name, new Uint8Array(await file.arrayBuffer()));
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Upload one file with tus, resuming an earlier upload of the same file if this browser has one. */
export async function uploadFile(file: File, onProgress: (sent: number) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint: "/api/uploads",
      metadata: { filename: file.name },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      onProgress: (sent) => onProgress(sent),
      onError: (error) => {
        const response = (error as tus.DetailedError).originalResponse;
        const body = response?.getBody();
        let message = error.message;
        try {
          message = (JSON.parse(body ?? "") as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          if (body) message = body;
        }
        reject(new Error(`${file.name}: ${message}`));
      },
      onSuccess: () => resolve(upload.url!.split("/").pop()!),
    });
    void upload.findPreviousUploads().then((previous) => {
      if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  });
}
