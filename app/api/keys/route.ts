// GET /api/keys: the signed-in wallet's API keys with their usage. POST /api/keys: a new key; its secret
// is in this answer only, with the Session the wallet signs next (POST /api/keys/:id/session).
import { requireSession } from "@/lib/auth/session";
import { createApiKey, listApiKeys } from "@/lib/api/keys";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";
import { readJsonBody } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { callerOf, handle, json } from "@/lib/http/route";
import { newKeySchema } from "./schema";

export const dynamic = "force-dynamic";

export function GET(): Promise<Response> {
  return handle(async () => {
    const signedIn = await requireSession();
    return json({ keys: await listApiKeys(getDb(), chatChain(), signedIn.address) });
  });
}

export function POST(request: Request): Promise<Response> {
  return handle(async () => {
    const signedIn = await callerOf(request);
    const body = await readJsonBody(request, newKeySchema, { maxBytes: 8 * 1024 });
    const created = await createApiKey(getDb(), chatChain(), signedIn.address, body, serverEnv().ENCRYPTION_KEY);
    return json(created, 201);
  });
}
