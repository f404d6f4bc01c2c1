// Next.js proxy (the file convention that was middleware): a fresh CSP nonce for every page. Next reads
// the nonce from the request's Content-Security-Policy header and puts it on its own scripts; pages are
// rendered per request (the root layout awaits connection()), so the nonce is never cached.
import { NextResponse, type NextRequest } from "next/server";
import { contentSecurityPolicy, strictTransportSecurity } from "@/lib/http/security-headers";

export function proxy(request: NextRequest) {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const rpcUrl = process.env.PUBLIC_RPC_URL || process.env.RPC_URL || "http://127.0.0.1:8545";
  const policy = contentSecurityPolicy({ nonce, rpcUrl, dev: process.env.NODE_ENV === "development" });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("Content-Security-Policy", policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("Content-Security-Policy", policy);
  const hsts = strictTransportSecurity(process.env.APP_URL || "http://localhost:3000");
  if (hsts) response.headers.set("Strict-Transport-Security", hsts);
  return response;
}

export const config = {
  matcher: [
    {
      // Pages only: API routes answer JSON and streams (their headers come from next.config.ts).
      source: "/((?!api/|_next/static|_next/image|favicon.ico|icon|apple-icon).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
