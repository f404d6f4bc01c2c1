// What a user is told when a model endpoint fails: a summary in plain words, never the endpoint's reply
// echoed back (an endpoint can be anything, and its text is not ours to show). The full error goes to
// the server's log only.
import { APICallError, RetryError } from "ai";
import { blockedCause } from "@/lib/net/outbound";

/**
 * Plain words for the network failures people meet when they point the server at an endpoint, by the
 * code Node or undici gives them. The code follows in parentheses, for whoever searches for it.
 */
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "nothing is listening at that address, so the connection was refused: check the host, the port and that the server is running",
  ECONNRESET: "the endpoint closed the connection before answering",
  ECONNABORTED: "the connection to the endpoint was aborted",
  EPIPE: "the endpoint closed the connection while the request was being sent",
  ENOTFOUND: "that host name does not exist: check the URL's spelling",
  EAI_AGAIN: "that host name could not be looked up right now: try again in a moment",
  ETIMEDOUT: "the endpoint did not answer in time",
  EHOSTUNREACH: "that address cannot be reached from the server",
  ENETUNREACH: "that network cannot be reached from the server",
  EADDRNOTAVAIL: "that address cannot be used from the server",
  UND_ERR_CONNECT_TIMEOUT: "the endpoint did not accept the connection in time",
  UND_ERR_HEADERS_TIMEOUT: "the endpoint accepted the connection but did not start answering in time",
  UND_ERR_BODY_TIMEOUT: "the endpoint stopped sending its answer part-way",
  UND_ERR_SOCKET: "the connection to the endpoint broke",
  UND_ERR_CLOSED: "the connection to the endpoint was closed",
  ERR_INVALID_URL: "the URL is not valid",
  EPROTO: "the secure (TLS) connection could not be set up: check that the server speaks https if the URL says https://",
  ERR_SSL_WRONG_VERSION_NUMBER: "the secure (TLS) connection could not be set up: the URL says https://, but the server seems to speak plain http",
  ERR_TLS_CERT_ALTNAME_INVALID: "its TLS certificate is for another host name",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its TLS certificate is self-signed, so it cannot be trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "its TLS certificate chain ends in a self-signed certificate the server does not trust",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its TLS certificate cannot be verified: an intermediate certificate is missing or the issuer is unknown",
  UNABLE_TO_GET_ISSUER_CERT: "its TLS certificate cannot be verified: its issuer is unknown",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its TLS certificate cannot be verified: its issuer is unknown to the server",
  CERT_HAS_EXPIRED: "its TLS certificate has expired",
  CERT_NOT_YET_VALID: "its TLS certificate is not valid yet",
  CERT_REVOKED: "its TLS certificate has been revoked",
  CERT_UNTRUSTED: "its TLS certificate is not trusted",
};

/**
 * Failures that undici's fetch reports by message alone (a Fetch-standard network error has no code):
 * the message stands in for the code.
 */
const MESSAGE_REASONS: Record<string, string> = {
  "bad port": "that port is blocked for web requests, as the Fetch standard keeps ports such as 1, 25 or 6000 for other protocols: use another port",
  "unexpected redirect": "the endpoint answered with a redirect, which the server does not follow: give the final URL",
};

/** A code fit to show: an identifier such as ECONNREFUSED, never free text from elsewhere. */
const SHOWABLE_CODE = /^[A-Z][A-Z0-9_]{1,40}$/;

type CauseChain = { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown[] } | undefined;

/** The first known failure in a cause chain (fetch wraps them: TypeError → cause → errors[]), else the first code seen. */
function networkFailure(error: unknown): { code: string; reason?: string } | undefined {
  let current = error as CauseChain;
  let unknownCode: string | undefined;
  for (let depth = 0; current && typeof current === "object" && depth < 6; depth++) {
    const candidates = [current, ...(Array.isArray(current.errors) ? (current.errors as CauseChain[]) : [])];
    for (const candidate of candidates) {
      const code = candidate?.code;
      if (typeof code === "string" && NETWORK_REASONS[code]) return { code, reason: NETWORK_REASONS[code] };
      if (typeof code === "string" && SHOWABLE_CODE.test(code)) unknownCode ??= code;
      const message = candidate?.message;
      if (typeof message === "string" && MESSAGE_REASONS[message]) return { code: message, reason: MESSAGE_REASONS[message] };
    }
    current = current.cause as CauseChain;
  }
  return unknownCode ? { code: unknownCode } : undefined;
}

/**
 * Why a connection to an endpoint failed, in plain words with the code in parentheses, e.g.
 * "nothing is listening at that address, so the connection was refused: … (ECONNREFUSED)"; undefined when the
 * error carries no network code.
 */
export function networkFailureSummary(error: unknown): string | undefined {
  const failure = networkFailure(error);
  if (!failure) return undefined;
  return `${failure.reason ?? "the endpoint could not be reached"} (${failure.code})`;
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
  const network = networkFailureSummary(last);
  if (network) return network;
  return "the endpoint could not be reached or answered in an unexpected way";
}
