// POST /api/auth/logout: end this browser's session (idempotent; no body). `?everywhere=1` ends every
// session of the signed-in wallet, on every device.
import { endAllSessions, endSession } from "@/lib/auth/session";
import { assertSameOrigin, toResponse } from "@/lib/errors";
import { serverEnv } from "@/lib/env";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    if (new URL(request.url).searchParams.get("everywhere") === "1") {
      const revoked = await endAllSessions();
      return Response.json({ revoked }, { headers: { "Cache-Control": "no-store" } });
    }
    await endSession();
    return new Response(null, { status: 204, headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
