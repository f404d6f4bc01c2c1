import "server-only";
// Small pieces every listing route handler shares: the caller's session for state-changing requests
// (same-origin check first), a listing id from the path, and JSON answers that are never cached.
import { z } from "@/lib/zod";
import { requireSession, type SignedInSession } from "@/lib/auth/session";
import { AppError, assertSameOrigin, toResponse } from "@/lib/errors";
import { serverEnv } from "@/lib/env";

export const listingIdSchema = z.string().regex(/^[a-z0-9]{20,40}$/, "malformed listing id");

/** The signed-in caller of a state-changing request (401 when signed out, 403 from another site). */
export async function callerOf(request: Request): Promise<SignedInSession> {
  assertSameOrigin(request, serverEnv().APP_URL);
  return requireSession();
}

export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: { "Cache-Control": "no-store" } });
}

/** Run a handler; any thrown value becomes the app's error JSON. */
export async function handle(run: () => Promise<Response>): Promise<Response> {
  try {
    return await run();
  } catch (error) {
    return toResponse(error);
  }
}

export async function idFrom(params: Promise<{ id: string }>): Promise<string> {
  const { id } = await params;
  const parsed = listingIdSchema.safeParse(id);
  if (!parsed.success) throw new AppError("bad_request", "Invalid request: malformed listing id.");
  return parsed.data;
}
