import type { NextConfig } from "next";
import { API_CORS_HEADERS, STATIC_SECURITY_HEADERS } from "./lib/http/security-headers";

// Nothing here may depend on the network or on build-time environment: one build serves any chain
// (chain id, RPC URL and contract addresses reach the browser through the root layout at request time).
const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // next dev would otherwise write AGENTS.md / agent instructions into the repository.
  agentRules: false,
  // The PostgreSQL driver and its Prisma adapter load from node_modules at run time instead of being bundled.
  // pdf.js (PDF text extraction) loads its worker module from node_modules at run time too.
  // The upload server (tus) and the archive readers stream from disk with Node's own modules: loaded as they are.
  serverExternalPackages: ["pg", "secp256k1", "keccak", "@prisma/adapter-pg", "pdfjs-dist", "@tus/server", "@tus/file-store", "yauzl", "tar-stream"],
  // No image optimizer: images are local files and the optimizer would be one more moving part.
  images: { unoptimized: true },
  // The same on every response; the per-page CSP (with its nonce) is set in proxy.ts.
  async headers() {
    const list = (headers: Record<string, string>) => Object.entries(headers).map(([key, value]) => ({ key, value }));
    return [
      { source: "/:path*", headers: list(STATIC_SECURITY_HEADERS) },
      { source: "/api/v1/:path*", headers: list(API_CORS_HEADERS) },
    ];
  },
  turbopack: {
    resolveAlias: {
      // Never used (no Base Account wallet is offered) and unbuildable here; see the stub's comment.
      "@base-org/account": "./lib/stubs/base-account-sdk.ts",
    },
  },
};

export default nextConfig;
