// What a user is told when a model endpoint fails: a summary in plain words, never the endpoint's reply
// echoed back (an endpoint can be anything, and its text is not ours to show). The full error goes to
// the server's log only.
import { APICallError, RetryError } from "ai";
import { blockedCause } from "@/lib/net/outbound";

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "nothing is listening at that address",
  ECONNRESET: "the endpoint closed the connection",
  ENOTFOUND: "that host name does not exist",
  EAI_AGAIN: "that host name could not be looked up right now",
  ETIMEDOUT: "the endpoint did not answer in time",
  EHOSTUNREACH: "that address cannot be reached from the server",
  ENETUNREACH: "that network cannot be reached from the server",
  UND_ERR_CONNECT_TIMEOUT: "the endpoint did not accept the connection in time",
  UND_ERR_SOCKET: "the connection to the endpoint broke",
  ERR_INVALID_URL: "the URL is not valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "its TLS certificate does not match the host name",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
};

/** The first system error code in a cause chain (fetch wraps them: TypeError → cause → errors[]). */
function networkCode(error: unknown): string | undefined {
  let current = error as { code?: string; cause?: unknown; errors?: { code?: string }[] } | undefined;
  for (let depth = 0; current && depth < 6; depth++) {
    if (typeof current.code === "string" && NETWORK_REASONS[current.code]) return current.code;
    const nested = current.errors?.find((e) => e.code && NETWORK_REASONS[e.code])?.code;
    if (nested) return nested;
    current = current.cause as typeof current;
  }
  return undefined;
}

export function httpStatusSummary(status: number): string {
  if (status === 401 || status === 403) return `the endpoint refused the request (${status}): check the API key`;
  if (status === 404) return "the endpoint answered 404: check the base URL and the model id";
  if (status === 429) return "the endpoint is rate-limiting requests (429): try again later";
  if (status >= 500) return `the endpoint failed (${status})`;
  return `the endpoint answered ${status}`;
}

/** A short, safe sentence fragment for why a call to a model endpoint failed. */
export function modelFailureSummary(error: unknown): string {
  const blocked = blockedCause(error);
  if (blocked) return blocked.message;
  const last = RetryError.isInstance(error) ? error.lastError : error;
  if (APICallError.isInstance(last) && last.statusCode !== undefined) return httpStatusSummary(last.statusCode);
  if (last instanceof Error && (last.name === "TimeoutError" || last.name === "AbortError")) return "the endpoint did not answer in time";
  const code = networkCode(last);
  if (code) return NETWORK_REASONS[code];
  return "the endpoint could not be reached or answered in an unexpected way";
}
