// A file sent to the app's resumable upload endpoint (tus, /api/uploads) over real HTTP the way the
// browser's upload module does: one POST that creates the upload, one PATCH with all of its bytes. Used
// by the demo seed and by the tests.

/** Uploads `bytes` as `name` for the signed-in `cookie`; returns the finished upload's id. */
export async function uploadWhole(appUrl: string, cookie: string, name: string, bytes: Uint8Array): Promise<string> {
  const tus = { cookie, "tus-resumable": "1.0.0" };
  const created = await fetch(`${appUrl}/api/uploads`, {
    method: "POST",
    headers: { ...tus, "upload-length": String(bytes.byteLength), "upload-metadata": `filename ${Buffer.from(name).toString("base64")}` },
  });
  if (created.status !== 201) throw new Error(`upload of ${name} was refused: ${created.status} ${await created.text()}`);
  const location = new URL(created.headers.get("location")!, appUrl);
  const patched = await fetch(location, { method: "PATCH", headers: { ...tus, "upload-offset": "0", "content-type": "application/offset+octet-stream" }, body: Buffer.from(bytes) });
  if (patched.status !== 204) throw new Error(`upload of ${name} failed: ${patched.status}`);
  return location.pathname.split("/").pop()!;
}
