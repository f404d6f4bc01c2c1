"use client";
// One file up with the tus resumable protocol (tus-js-client) to /api/uploads: used by the dataset form and
// the licence form. A dropped connection or a closed tab resumes from what the server has.
import * as tus from "tus-js-client";

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
