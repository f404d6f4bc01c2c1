// What "Test connection" (and a failed chat answer) tells a user when a model endpoint cannot be
// reached: plain words for the common Node and undici failures, with the code kept in parentheses.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fetch as undiciFetch } from "undici";
import { describe, expect, it } from "vitest";
import { modelFailureSummary, networkFailureSummary } from "@/lib/ai/failures";
import { OutboundBlockedError } from "@/lib/net/outbound";

/** A Node system error as `net` or `dns` raises it. */
function systemError(code: string, message = `connect ${code} 203.0.113.7:443`): Error {
  return Object.assign(new Error(message), { code });
}

/** How fetch reports a network failure: a TypeError whose cause is the real error. */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

describe("network failures in plain words", () => {
  it.each([
    ["ECONNREFUSED", /^nothing is listening at that address, so the connection was refused.* \(ECONNREFUSED\)$/],
    ["ENOTFOUND", /^that host name does not exist.* \(ENOTFOUND\)$/],
    ["ETIMEDOUT", /^the endpoint did not answer in time \(ETIMEDOUT\)$/],
    ["ECONNRESET", /^the endpoint closed the connection before answering \(ECONNRESET\)$/],
    ["EAI_AGAIN", /could not be looked up right now.* \(EAI_AGAIN\)$/],
    ["UND_ERR_CONNECT_TIMEOUT", /did not accept the connection in time \(UND_ERR_CONNECT_TIMEOUT\)$/],
    ["CERT_HAS_EXPIRED", /^its TLS certificate has expired \(CERT_HAS_EXPIRED\)$/],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", /^its TLS certificate is self-signed.* \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/],
    ["SELF_SIGNED_CERT_IN_CHAIN", /self-signed certificate.* \(SELF_SIGNED_CERT_IN_CHAIN\)$/],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", /^its TLS certificate cannot be verified.* \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/],
    ["ERR_TLS_CERT_ALTNAME_INVALID", /^its TLS certificate is for another host name \(ERR_TLS_CERT_ALTNAME_INVALID\)$/],
    ["ERR_SSL_WRONG_VERSION_NUMBER", /speak plain http \(ERR_SSL_WRONG_VERSION_NUMBER\)$/],
  ])("%s", (code, expected) => {
    const summary = modelFailureSummary(fetchFailed(systemError(code)));
    expect(summary).toMatch(expected);
    // The raw error text ("connect ECONNREFUSED 203.0.113.7:443") is not what the user reads.
    expect(summary).not.toMatch(/203\.0\.113\.7|connect /);
  });

  it("finds the code inside an AggregateError (one attempt per address of the host)", () => {
    const both = new AggregateError([systemError("ECONNREFUSED", "connect ECONNREFUSED ::1:11434"), systemError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:11434")]);
    expect(networkFailureSummary(fetchFailed(both))).toMatch(/^nothing is listening at that address.* \(ECONNREFUSED\)$/);
  });

  it("explains undici's code-less network errors by their message", () => {
    expect(modelFailureSummary(fetchFailed(new Error("bad port")))).toMatch(/^that port is blocked for web requests.* \(bad port\)$/);
    expect(modelFailureSummary(fetchFailed(new Error("unexpected redirect")))).toMatch(/redirect.* \(unexpected redirect\)$/);
  });

  it("keeps an unknown code, but never free text", () => {
    expect(modelFailureSummary(fetchFailed(systemError("ESOMETHINGNEW")))).toBe("the endpoint could not be reached (ESOMETHINGNEW)");
    expect(networkFailureSummary(fetchFailed(systemError("<b>not a code</b>")))).toBeUndefined();
    expect(modelFailureSummary(fetchFailed(new Error("the endpoint's own words")))).toBe("the endpoint could not be reached or answered in an unexpected way");
  });

  it("says a refused destination and a timeout as before", () => {
    const blocked = new OutboundBlockedError("localhost", "127.0.0.1", "loopback");
    expect(modelFailureSummary(fetchFailed(blocked))).toBe(blocked.message);
    expect(modelFailureSummary(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toBe("the endpoint did not answer in time");
  });
});

describe("real fetch failures", () => {
  it("a closed port is 'nothing is listening' (ECONNREFUSED)", async () => {
    // A port that was just free: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const server = http.createServer();
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const error = await undiciFetch(`http://127.0.0.1:${port}/v1/chat/completions`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(modelFailureSummary(error)).toMatch(/^nothing is listening at that address.* \(ECONNREFUSED\)$/);
  });

  it("a port the Fetch standard blocks is explained (bad port)", async () => {
    const error = await undiciFetch("http://127.0.0.1:6000/v1/chat/completions").then(
      () => null,
      (e: unknown) => e,
    );
    expect(modelFailureSummary(error)).toMatch(/^that port is blocked for web requests.* \(bad port\)$/);
  });
});
