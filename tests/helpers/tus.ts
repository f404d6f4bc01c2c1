// The tus requests the upload tests send to /api/uploads.

export const tusHeaders = (cookie: string, extra: Record<string, string> = {}) => ({ cookie, "tus-resumable": "1.0.0", ...extra });

/** Creates an upload of `length` bytes named `name` on the server at `appUrl`; its URL and id when created. */
export async function createUpload(appUrl: string, cookie: string, name: string, length: number): Promise<{ status: number; url: string; id: string }> {
  const response = await fetch(`${appUrl}/api/uploads`, {
    method: "POST",
    headers: tusHeaders(cookie, { "upload-length": String(length), "upload-metadata": `filename ${Buffer.from(name).toString("base64")}` }),
  });
  const location = response.headers.get("location") ?? "";
  return { status: response.status, url: new URL(location || "/", appUrl).toString(), id: location.split("/").pop() ?? "" };
}
