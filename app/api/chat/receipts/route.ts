// GET /api/chat/receipts?ids=a,b: where the signed-in wallet's receipts stand (pending → settled, with
// the settlement transaction, or failed with the reason).
import { getAddress } from "viem";
import { requireSession } from "@/lib/auth/session";
import { receiptStatuses } from "@/lib/chat/conversations";
import { chatErrorResponse } from "@/lib/chat/errors";
import { getDb } from "@/lib/db";
import { receiptsQuerySchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const { ids } = receiptsQuerySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const receipts = await receiptStatuses(getDb(), getAddress(signedIn.address), ids);
    return Response.json({ receipts }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return chatErrorResponse(error);
  }
}
