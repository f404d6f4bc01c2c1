// GET /api/chat/conversations?appId=…: the signed-in wallet's conversations with one app, newest first.
import { getAddress } from "viem";
import { requireSession } from "@/lib/auth/session";
import { listConversations } from "@/lib/chat/conversations";
import { chatErrorResponse } from "@/lib/chat/errors";
import { getDb } from "@/lib/db";
import { conversationsQuerySchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const { appId } = conversationsQuerySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const conversations = await listConversations(getDb(), getAddress(signedIn.address), appId);
    return Response.json({ conversations }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return chatErrorResponse(error);
  }
}
