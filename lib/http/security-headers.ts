// The headers every response carries, and the Content-Security-Policy of every page (proxy.ts). Session
// keys live in the browser's localStorage, so an injected script would be a wallet drained: scripts run
// only with the request's nonce (Next applies it to its own scripts) or when loaded by one that has it
// ('strict-dynamic'). The browser may connect only to the app and the chain's RPC endpoint.

/** Headers for every response, pages and API alike. */
export const STATIC_SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), interest-cohort=()",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/**
 * The OpenAI-compatible API (/api/v1) answers scripts of any origin. It is authorized only by the API key
 * in the Authorization header, never by cookies, and credentials are not allowed here: a foreign page can
 * use a key it was given, never the visitor's signed-in session. (The wildcard in Allow-Headers does not
 * cover Authorization, so it is named.) Every other route stays same-origin.
 */
export const API_CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers": "Authorization, Content-Type, *",
  "Access-Control-Expose-Headers": "Retry-After",
  "Access-Control-Max-Age": "600",
};

export interface PagePolicyInput {
  nonce: string;
  /** The RPC URL browsers use (PUBLIC_RPC_URL, else RPC_URL). */
  rpcUrl: string;
  /** Next's dev server: React needs eval there, and hot reload a websocket. */
  dev: boolean;
}

/** The CSP of a page answered with `nonce`. */
export function contentSecurityPolicy({ nonce, rpcUrl, dev }: PagePolicyInput): string {
  const rpc = new URL(rpcUrl).origin;
  return [
    "default-src 'self'",
    // React's dev build evaluates code to rebuild server error stacks; production needs no eval.
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    // Style attributes come from server-rendered components (charts, RainbowKit); styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self' ${rpc}${dev ? " ws: wss:" : ""}`,
    "worker-src 'self' blob:",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** HSTS only where the app is really served over https and not on a local host. */
export function strictTransportSecurity(appUrl: string): string | null {
  const url = new URL(appUrl);
  if (url.protocol !== "https:") return null;
  if (url.hostname === "localhost" || url.hostname.endsWith(".localhost") || /^127\./.test(url.hostname) || url.hostname === "[::1]") return null;
  return "max-age=63072000; includeSubDomains";
}
