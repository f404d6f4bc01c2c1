// GET /api/auth/session: the signed-in wallet {address, chainId}, or 401.
import { requireSession } from "@/lib/auth/session";
import { toResponse } from "@/lib/errors";

export async function GET(): Promise<Response> {
  try {
    const session = await requireSession();
    return Response.json(session, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
