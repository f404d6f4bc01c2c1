// POST /api/keys/:id/revoke: the key and its spending session stop working at once.
import { revokeApiKey } from "@/lib/api/keys";
import { getDb } from "@/lib/db";
import { callerOf, handle, idFrom, json } from "@/lib/http/route";

export function POST(request: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  return handle(async () => {
    const signedIn = await callerOf(request);
    await revokeApiKey(getDb(), signedIn.address, await idFrom(params));
    return json({ revoked: true });
  });
}
