// GET /api/auth/nonce: a fresh single-use nonce for a Sign-In with Ethereum message, bound to this client
// by an httpOnly cookie (re-used if the client already has one).
import { cookies } from "next/headers";
import { connection } from "next/server";
import { CLIENT_BINDING_COOKIE, NONCE_TTL_MS, clientBinding, issueNonce } from "@/lib/auth/siwe";
import { toResponse } from "@/lib/errors";
import { serverEnv } from "@/lib/env";
import { enforceRouteLimit } from "@/lib/http/route-limits";

export async function GET(request: Request): Promise<Response> {
  // Every call is a new nonce: never prerendered or cached.
  await connection();
  try {
    await enforceRouteLimit(request, "nonce");
    const jar = await cookies();
    const binding = clientBinding(jar.get(CLIENT_BINDING_COOKIE)?.value);
    const nonce = await issueNonce(binding);
    jar.set(CLIENT_BINDING_COOKIE, binding, {
      httpOnly: true,
      sameSite: "strict",
      secure: new URL(serverEnv().APP_URL).protocol === "https:",
      path: "/api/auth",
      maxAge: NONCE_TTL_MS / 1000,
    });
    return Response.json({ nonce }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
