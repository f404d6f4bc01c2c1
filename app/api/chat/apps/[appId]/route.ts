// GET /api/chat/apps/:appId: an app as the chat page needs it — name, model, datasets, and its current
// charge set (the slots and on-chain prices a receipt must sign). Public: prices are public on chain.
import { loadChatApp } from "@/lib/chat/charges";
import { chatErrorResponse } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { appIdSchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, { params }: { params: Promise<{ appId: string }> }): Promise<Response> {
  try {
    const appId = appIdSchema.parse((await params).appId);
    const app = await loadChatApp(getDb(), chatChain(), appId);
    return Response.json(
      {
        id: app.id,
        name: app.name,
        description: app.description,
        model: { id: app.model.listingId, name: app.model.name, offline: app.model.provider === "offline" },
        datasets: app.datasets,
        chargeSet: app.chargeSet,
      },
      { headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return chatErrorResponse(error);
  }
}
