// The one error type of the app. Server code throws `AppError(code, message)`; route handlers turn any
// thrown value into `{ error: { code, message } }` with the status that belongs to the code. Messages of
// AppErrors are meant for the caller; anything else is logged and answered with a generic "internal".
import { ZodError } from "zod";
import { SESSION_COOKIE } from "@/lib/auth/cookie";

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  payment_required: 402,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  upstream_unavailable: 502,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One refused file of an upload, for the form to mark its row. */
export type FileProblem = { name: string; message: string };

export type ErrorBody = { error: { code: ErrorCode; message: string; files?: FileProblem[] } };

export class AppError extends Error {
  /** Response headers that belong to the error (e.g. Retry-After on a 429). */
  public readonly headers?: Record<string, string>;
  /** The files of an upload this error refuses, each with its own reason. */
  public readonly files?: FileProblem[];

  constructor(
    public readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string>; files?: FileProblem[] },
  ) {
    super(message, options);
    this.name = "AppError";
    this.headers = options?.headers;
    this.files = options?.files;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

const DATABASE_DOWN =
  /ECONNREFUSED|ECONNRESET|connect ENOENT \S*\.s\.PGSQL\.\d+|Connection terminated|terminating connection|the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)|Can't reach database server|server closed the connection/i;

/**
 * Whether a thrown value says the database cannot be reached right now (down, restarting, or the
 * connection was cut): the driver's and Prisma's errors, read through their causes.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const { message, code, name } = e as { message?: unknown; code?: unknown; name?: unknown };
    if (name === "PrismaClientInitializationError" || code === "P1001" || code === "P1017" || code === "57P01" || code === "57P03") return true;
    if (typeof message === "string" && DATABASE_DOWN.test(message)) return true;
  }
  return false;
}

/** The answer to a caller when the database cannot be reached. */
export const DATABASE_UNAVAILABLE = "The marketplace's database cannot be reached right now. Nothing was changed: try again in a moment.";

/**
 * Map any thrown value to an AppError: zod failures become bad_request, an unreachable database a 503,
 * unknown errors internal.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return new AppError("unavailable", DATABASE_UNAVAILABLE, { cause: error, headers: { "Retry-After": "5" } });
  if (error instanceof ZodError) {
    const detail = error.issues
      .map((issue) => (issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
      .join("; ");
    return new AppError("bad_request", `Invalid request: ${detail}`, { cause: error });
  }
  return new AppError("internal", "Something went wrong on the server.", { cause: error });
}

/** JSON response for a thrown value. Internal errors are logged, never echoed to the caller. */
export function toResponse(error: unknown, init?: { headers?: HeadersInit }): Response {
  const appError = toAppError(error);
  if (appError.code === "internal") {
    console.error(appError.cause ?? appError);
  } else if (appError.code === "unavailable") {
    console.error(`database unavailable: ${String((appError.cause as Error | undefined)?.message ?? appError.cause).split("\n")[0]}`);
  }
  const body: ErrorBody = { error: { code: appError.code, message: appError.message, ...(appError.files ? { files: appError.files } : {}) } };
  const headers = new Headers(init?.headers);
  for (const [name, value] of Object.entries(appError.headers ?? {})) headers.set(name, value);
  headers.set("Cache-Control", "no-store");
  return Response.json(body, { status: appError.status, headers });
}

/**
 * A request body's bytes, read as they arrive and refused with 413 the moment they pass `maxBytes`,
 * whether or not Content-Length was sent (a chunked body can claim nothing and send gigabytes). A
 * declared length over the limit is refused before anything is read.
 */
export async function readBodyBytes(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () => new AppError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(new ArrayBuffer(0));
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(new ArrayBuffer(size));
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Parse a JSON request body with a zod schema; malformed JSON and schema failures are bad_request. */
export async function readJsonBody<T>(
  request: Request,
  schema: { parse(value: unknown): T },
  { maxBytes = 64 * 1024 }: { maxBytes?: number } = {},
): Promise<T> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw new AppError("unsupported_media_type", "Send the body as application/json.");
  }
  const bytes = await readBodyBytes(request, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new AppError("bad_request", "The body is not valid JSON (UTF-8 text).");
  }
  return schema.parse(value);
}

/**
 * Reject state-changing requests sent by another site's page. Browsers send Origin on cross-origin
 * POSTs; non-browser clients (tests, scripts) send none and are judged by their credentials alone.
 *
 * A request that carries the session cookie must also come from this origin as the browser sees it: not
 * with Origin "null" (what a browser sends after a cross-origin redirect, or from a sandboxed frame), and
 * not with Sec-Fetch-Site "same-site" or "cross-site". The cookie is SameSite=Lax, which a page on
 * another port of the same host or on a sibling subdomain still gets sent with a form post.
 */
export function assertSameOrigin(request: Request, appUrl: string): void {
  const origin = request.headers.get("origin");
  if (origin && origin !== "null" && origin !== new URL(appUrl).origin) {
    throw new AppError("forbidden", `Requests from ${origin} are not accepted.`);
  }
  if (!carriesSessionCookie(request)) return;
  const site = request.headers.get("sec-fetch-site");
  if (origin === "null" || site === "same-site" || site === "cross-site") {
    throw new AppError("forbidden", "Requests sent by another page (a redirect, a frame or another site) are not accepted with your session.");
  }
}

function carriesSessionCookie(request: Request): boolean {
  return (request.headers.get("cookie") ?? "").split(";").some((part) => part.trim().startsWith(`${SESSION_COOKIE}=`));
}
