// POST /api/keys/:id/session: the wallet's signature of the key's spending Session; the key works from then on.
import type { Hex } from "viem";
import { activateApiKey } from "@/lib/api/keys";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { readJsonBody } from "@/lib/errors";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";
import { keySessionSchema } from "../../schema";

export function POST(request: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  return handle(async () => {
    const signedIn = await callerOf(request);
    const id = await idFrom(params);
    const body = await readJsonBody(request, keySessionSchema, { maxBytes: 4 * 1024 });
    return json({ key: await activateApiKey(getDb(), chatChain(), signedIn.address, id, body.signature as Hex) });
  });
}
