// POST /api/chat/sessions: register the wallet-signed spending session of the signed-in wallet.
import type { Address, Hex } from "viem";
import { requireSession } from "@/lib/auth/session";
import { chatErrorResponse } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { registerSession } from "@/lib/chat/sessions";
import { getDb } from "@/lib/db";
import { assertSameOrigin, readJsonBody } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { sessionBodySchema } from "./schema";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    const signedIn = await requireSession();
    const body = await readJsonBody(request, sessionBodySchema, { maxBytes: 32 * 1024 });
    const { hash } = await registerSession(getDb(), chatChain(), signedIn.address, {
      ...body,
      payer: body.payer as Address,
      key: body.key as Address,
      operator: body.operator as Address,
      signature: body.signature as Hex,
    });
    return Response.json({ hash }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return chatErrorResponse(error);
  }
}
