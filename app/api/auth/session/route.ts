// GET /api/auth/session: the signed-in wallet {address, chainId}, or {address: null} when signed out
// (200 either way: being signed out is not an error, and browsers log every 4xx). Rotates the token
// when it is due.
import { currentSession, rotateSessionIfDue } from "@/lib/auth/session";
import { toResponse } from "@/lib/errors";

export async function GET(): Promise<Response> {
  try {
    const session = await currentSession();
    if (session) await rotateSessionIfDue();
    return Response.json(session ?? { address: null }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
