// POST /api/auth/verify {message, signature}: check a signed sign-in message and start a session.
import { cookies } from "next/headers";
import type { Hex } from "viem";
import { startSession } from "@/lib/auth/session";
import { CLIENT_BINDING_COOKIE, verifySignIn } from "@/lib/auth/siwe";
import { assertSameOrigin, readJsonBody, toResponse } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { verifyBodySchema } from "./schema";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request, serverEnv().APP_URL);
    await enforceRouteLimit(request, "verify");
    const body = await readJsonBody(request, verifyBodySchema, { maxBytes: 32 * 1024 });
    const binding = (await cookies()).get(CLIENT_BINDING_COOKIE)?.value;
    const signedIn = await verifySignIn({ message: body.message, signature: body.signature as Hex, binding });
    await startSession(signedIn);
    return Response.json(signedIn, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
