// Chat errors carry a reason the page turns into a way forward (deposit, authorize a session, retry…).
import { AppError, toResponse, type ErrorCode } from "@/lib/errors";
import type { ChatErrorReason } from "./types";

export class ChatError extends AppError {
  constructor(
    code: ErrorCode,
    public readonly reason: ChatErrorReason,
    message: string,
    headers?: Record<string, string>,
  ) {
    super(code, message, { headers });
    this.name = "ChatError";
  }
}

/** `{ error: { code, message, reason? } }` with the status of the code. */
export function chatErrorResponse(error: unknown): Response {
  if (error instanceof ChatError) {
    return Response.json(
      { error: { code: error.code, message: error.message, reason: error.reason } },
      { status: error.status, headers: { "Cache-Control": "no-store", ...error.headers } },
    );
  }
  return toResponse(error);
}
