// The address of the client behind a request, the one way every route reads it (rate limits, logs).
//
// Next.js does not hand route handlers the socket, and it keeps an X-Forwarded-For the client sent
// instead of adding the socket's address. So the server records the socket's address itself in
// PEER_HEADER on every request (instrumentation.ts → recordPeerAddresses), overwriting whatever a client
// put there. With TRUSTED_PROXY_HOPS = 0 (the default) that address is the client. Behind N trusted
// proxies, each of which appends the address it received the request from to X-Forwarded-For, the
// client is the N-th entry from the right of [...X-Forwarded-For, socket address]: anything further left
// was written by the client itself and proves nothing. The first X-Forwarded-For entry is never trusted.
import http from "node:http";
import ipaddr from "ipaddr.js";

export const PEER_HEADER = "x-kip-peer-address";

/** The client address of `request`, trusting `trustedProxyHops` proxies in front of this server. */
export function clientAddress(request: Request, trustedProxyHops: number): string {
  const peer = request.headers.get(PEER_HEADER) ?? "unknown";
  if (trustedProxyHops <= 0) return peer;
  const forwarded = (request.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  const hops = [...forwarded, peer];
  return hops[Math.max(0, hops.length - 1 - trustedProxyHops)];
}

/**
 * The key a client address is rate-limited under: an IPv4 address as it is (also when written IPv4-mapped,
 * "::ffff:203.0.113.7"), an IPv6 address by its /64. One host is usually given a whole /64, and could
 * otherwise send each request from another of its 2^64 addresses.
 */
export function addressBucket(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const groups = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${groups.join(":")}::/64`;
}

let recording = false;

/** Stamps every incoming request of this process's HTTP servers with its socket's remote address. */
export function recordPeerAddresses(): void {
  if (recording) return;
  recording = true;
  const emit = http.Server.prototype.emit as (this: http.Server, event: string | symbol, ...args: unknown[]) => boolean;
  http.Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === "request") {
      const request = args[0] as http.IncomingMessage;
      request.headers[PEER_HEADER] = request.socket.remoteAddress ?? "unknown";
    }
    return emit.call(this, event, ...args);
  } as typeof http.Server.prototype.emit;
}
