// GET /api/chat/conversations/:id: one conversation of the signed-in wallet as UI messages.
// DELETE: removes it (its receipts stay: they are payment records).
import { getAddress } from "viem";
import { requireSession } from "@/lib/auth/session";
import { deleteConversation, openConversation } from "@/lib/chat/conversations";
import { chatErrorResponse } from "@/lib/chat/errors";
import { clientId } from "@/app/api/chat/schema";
import { getDb } from "@/lib/db";
import { AppError, assertSameOrigin } from "@/lib/errors";
import { serverEnv } from "@/lib/env";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Context): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const id = clientId.parse((await params).id);
    const conversation = await openConversation(getDb(), getAddress(signedIn.address), id);
    if (!conversation) throw new AppError("not_found", "No such conversation.");
    return Response.json(conversation, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return chatErrorResponse(error);
  }
}

export async function DELETE(request: Request, { params }: Context): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    const signedIn = await requireSession();
    const id = clientId.parse((await params).id);
    if (!(await deleteConversation(getDb(), getAddress(signedIn.address), id))) throw new AppError("not_found", "No such conversation.");
    return new Response(null, { status: 204 });
  } catch (error) {
    return chatErrorResponse(error);
  }
}
