// GET|HEAD /api/listings/:id/licences/:version/files/:fileId: a licensed file, decrypted as it streams, for a
// signed-in wallet (401 otherwise) that holds a licence to that version on this chain's KipLicences, read from
// the chain on every request (403 otherwise; the creator may always download). Resumable: one `bytes` range
// per request (206 with Content-Range; 416 past the end), and If-Range with the ETag (the file's SHA-256).
import { requireSession } from "@/lib/auth/session";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { handle, idFrom } from "@/lib/http/route";
import { parseRange } from "@/lib/licences/range";
import { licensedFileFor } from "@/lib/licences/service";
import { licenceFileStream } from "@/lib/licences/storage";

type Params = { params: Promise<{ id: string; version: string; fileId: string }> };

async function download(request: Request, { params }: Params, withBody: boolean): Promise<Response> {
  return handle(async () => {
    const id = await idFrom(params);
    const { version: versionText, fileId } = await params;
    if (!/^[1-9]\d{0,8}$/.test(versionText)) throw new AppError("bad_request", "Invalid request: version: must be a version number (1, 2, …).");
    if (!/^[0-9a-f]{32}$/.test(fileId)) throw new AppError("bad_request", "Invalid request: malformed file id.");
    const session = await requireSession();
    const { path, file } = await licensedFileFor(session, id, Number(versionText), fileId);

    const etag = `"${file.sha256}"`;
    const ifRange = request.headers.get("if-range");
    const answer = ifRange && ifRange !== etag ? { kind: "full" as const } : parseRange(request.headers.get("range"), file.size);
    const headers = new Headers({
      "Accept-Ranges": "bytes",
      ETag: etag,
      // no-transform: never compressed on the way (a compressed body would not match its byte ranges).
      "Cache-Control": "private, no-store, no-transform",
      "X-Content-Type-Options": "nosniff",
      "Content-Type": "application/octet-stream",
      "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(path.split("/").pop() ?? path)}`,
    });
    if (answer.kind === "unsatisfiable") {
      headers.set("Content-Range", `bytes */${file.size}`);
      return new Response(null, { status: 416, headers });
    }
    const range = answer.kind === "partial" ? { start: answer.start, end: answer.end } : { start: 0, end: file.size - 1 };
    const length = file.size === 0 ? 0 : range.end - range.start + 1;
    // Next.js drops a route handler's Content-Length (the body goes out chunked), so the size travels in
    // Content-Range: a client that wants it up front asks for `bytes=0-`.
    if (answer.kind === "partial") headers.set("Content-Range", `bytes ${range.start}-${range.end}/${file.size}`);
    const status = answer.kind === "partial" ? 206 : 200;
    if (!withBody || length === 0) return new Response(null, { status, headers });
    return new Response(licenceFileStream(file, range, serverEnv().ENCRYPTION_KEY), { status, headers });
  });
}

export function GET(request: Request, context: Params) {
  return download(request, context, true);
}

export function HEAD(request: Request, context: Params) {
  return download(request, context, false);
}
