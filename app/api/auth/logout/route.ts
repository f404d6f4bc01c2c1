// POST /api/auth/logout: end the session (idempotent; no body).
import { endSession } from "@/lib/auth/session";
import { assertSameOrigin, toResponse } from "@/lib/errors";
import { serverEnv } from "@/lib/env";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    await endSession();
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
