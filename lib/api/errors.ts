// Errors of the OpenAI-compatible API in OpenAI's shape: `{ "error": { message, type, param, code } }`
// with the HTTP status OpenAI's clients expect. The API throws the app's one error type (AppError, or
// ChatError from the chat path it shares); this file is the single place that words them for OpenAI clients.
import { ZodError } from "zod";
import { AppError, toAppError, type ErrorCode } from "@/lib/errors";
import { ChatError } from "@/lib/chat/errors";

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An API error with OpenAI's `code` (and the request field it is about, when there is one). */
export class ApiError extends AppError {
  constructor(
    code: ErrorCode,
    public readonly openAiCode: string,
    message: string,
    public readonly param: string | null = null,
    headers?: Record<string, string>,
  ) {
    super(code, message, { headers });
    this.name = "ApiError";
  }
}

const TYPE_OF_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  402: "insufficient_quota",
  403: "permission_error",
  404: "invalid_request_error",
  409: "invalid_request_error",
  413: "invalid_request_error",
  415: "invalid_request_error",
  429: "rate_limit_exceeded",
};

/** OpenAI's codes for the chat path's reasons. */
const CODE_OF_REASON: Partial<Record<ChatError["reason"], string>> = {
  over_cap: "total_cap_reached",
  balance_too_low: "insufficient_balance",
  session_revoked: "invalid_api_key",
  session_expired: "invalid_api_key",
  rate_limited: "rate_limit_exceeded",
  model_down: "model_unavailable",
  model_unavailable: "model_unavailable",
  chain_unavailable: "chain_unavailable",
  app_unavailable: "model_not_available",
};

/** `messages[0].content` from a zod issue path. */
export function paramOf(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.reduce<string>((name, part) => (typeof part === "number" ? `${name}[${part}]` : name ? `${name}.${String(part)}` : String(part)), "");
}

export function toOpenAiError(error: unknown): { status: number; body: OpenAiErrorBody; headers: Record<string, string> } {
  let status: number;
  let message: string;
  let code: string | null = null;
  let param: string | null = null;
  let headers: Record<string, string> = {};
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    param = paramOf(issue.path);
    status = 400;
    message = param ? `Invalid '${param}': ${issue.message}.` : `Invalid request: ${issue.message}.`;
    code = "invalid_value";
  } else {
    const appError = toAppError(error);
    if (appError.code === "internal") console.error(appError.cause ?? appError);
    status = appError.status;
    message = appError.message;
    headers = appError.headers ?? {};
    if (appError instanceof ApiError) {
      code = appError.openAiCode;
      param = appError.param;
    } else if (appError instanceof ChatError) {
      code = CODE_OF_REASON[appError.reason] ?? appError.reason;
    } else {
      code = { payload_too_large: "request_too_large", unsupported_media_type: "unsupported_media_type", bad_request: "invalid_value" }[appError.code as string] ?? null;
    }
  }
  const type = TYPE_OF_STATUS[status] ?? (status >= 500 ? "server_error" : "invalid_request_error");
  return { status, body: { error: { message, type, param, code } }, headers };
}

export function openAiErrorResponse(error: unknown): Response {
  const { status, body, headers } = toOpenAiError(error);
  return Response.json(body, { status, headers: { "Cache-Control": "no-store", ...headers } });
}
