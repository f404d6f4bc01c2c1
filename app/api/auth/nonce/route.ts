// GET /api/auth/nonce: a fresh single-use nonce for a Sign-In with Ethereum message.
import { connection } from "next/server";
import { issueNonce } from "@/lib/auth/siwe";
import { toResponse } from "@/lib/errors";

export async function GET(): Promise<Response> {
  // Every call is a new nonce: never prerendered or cached.
  await connection();
  try {
    const nonce = await issueNonce();
    return Response.json({ nonce }, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return toResponse(error);
  }
}
