// POST /api/chat/sessions/revoke: the signed-in payer stops one of their spending sessions here at once.
// No voucher of it is admitted after this; answers admitted before still settle. The chat page also
// revokes it on chain (KipSettlement.revokeSession), which the contract enforces for vouchers issued
// from REVOKE_DELAY after that transaction.
import { requireSession } from "@/lib/auth/session";
import { chatErrorResponse } from "@/lib/chat/errors";
import { revokeSession } from "@/lib/chat/sessions";
import { getDb } from "@/lib/db";
import { assertSameOrigin, readJsonBody } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { revokeBodySchema } from "../schema";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    const signedIn = await requireSession();
    const body = await readJsonBody(request, revokeBodySchema, { maxBytes: 4 * 1024 });
    const revokedAt = await revokeSession(getDb(), signedIn.address, body.hash);
    return Response.json({ hash: body.hash, revokedAt }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return chatErrorResponse(error);
  }
}
