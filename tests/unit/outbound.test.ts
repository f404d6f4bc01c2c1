// The outbound request policy: address classes, the MODEL_HOSTS_ALLOW setting, and the check made on
// the address a real connection resolves to (a real HTTP server on loopback, reached by name and by IP).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockedCause, classifyAddress, parseOutboundPolicy, policyFetch } from "@/lib/net/outbound";

let server: http.Server;
let port = 0;

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end("internal secret"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("address classes", () => {
  it("names every non-public range, including IPv4 inside IPv6", () => {
    expect(classifyAddress("127.0.0.1")).toBe("loopback");
    expect(classifyAddress("127.9.9.9")).toBe("loopback");
    expect(classifyAddress("::1")).toBe("loopback");
    expect(classifyAddress("::ffff:127.0.0.1")).toBe("loopback");
    expect(classifyAddress("::ffff:7f00:1")).toBe("loopback");
    expect(classifyAddress("64:ff9b::a9fe:a9fe")).toBe("cloud metadata");
    expect(classifyAddress("169.254.169.254")).toBe("cloud metadata");
    expect(classifyAddress("169.254.1.1")).toBe("link-local");
    expect(classifyAddress("fe80::1")).toBe("link-local");
    expect(classifyAddress("10.0.0.1")).toBe("private");
    expect(classifyAddress("172.31.255.255")).toBe("private");
    expect(classifyAddress("192.168.0.1")).toBe("private");
    expect(classifyAddress("100.64.0.1")).toBe("private");
    expect(classifyAddress("fd12::1")).toBe("private");
    expect(classifyAddress("224.0.0.1")).toBe("multicast");
    expect(classifyAddress("ff02::1")).toBe("multicast");
    expect(classifyAddress("0.0.0.0")).toBe("reserved");
    expect(classifyAddress("::")).toBe("reserved");
    expect(classifyAddress("8.8.8.8")).toBeNull();
    expect(classifyAddress("172.32.0.1")).toBeNull();
    expect(classifyAddress("2606:4700::1111")).toBeNull();
  });
});

describe("MODEL_HOSTS_ALLOW", () => {
  it("defaults to everything on a local chain and to public addresses elsewhere", () => {
    expect(parseOutboundPolicy(undefined, true).allowAll).toBe(true);
    expect(parseOutboundPolicy(undefined, false).allowAll).toBe(false);
    expect(parseOutboundPolicy("none", true).allowAll).toBe(false);
    expect(parseOutboundPolicy("*", false).allowAll).toBe(true);
  });

  it("takes host names, addresses and CIDR ranges, and refuses anything else", () => {
    const policy = parseOutboundPolicy("ollama.internal, 10.0.0.0/8, ::1", false);
    expect(policy.hosts.has("ollama.internal")).toBe(true);
    expect(policy.ranges.check("10.2.3.4", "ipv4")).toBe(true);
    expect(policy.ranges.check("::1", "ipv6")).toBe(true);
    expect(() => parseOutboundPolicy("10.0.0.0/40", false)).toThrow(/not a valid IP range/);
    expect(() => parseOutboundPolicy("http://x", false)).toThrow(/neither a host name nor an IP range/);
  });
});

describe("a fetch that connects only where the policy allows", () => {
  it("refuses loopback by name (after DNS) and by IP, and never reaches the server", async () => {
    const guarded = policyFetch(parseOutboundPolicy("none", false));
    for (const url of [`http://localhost:${port}/`, `http://127.0.0.1:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`]) {
      const error = await guarded(url).then(() => null, (e: unknown) => e);
      expect(blockedCause(error), url).not.toBeNull();
      expect(blockedCause(error)!.message).toMatch(/loopback address/);
    }
  });

  it("connects where the policy allows it", async () => {
    const byRange = policyFetch(parseOutboundPolicy("127.0.0.0/8", false));
    expect(await (await byRange(`http://127.0.0.1:${port}/`)).text()).toBe("internal secret");
    const byName = policyFetch(parseOutboundPolicy("localhost", false));
    expect(await (await byName(`http://localhost:${port}/`)).text()).toBe("internal secret");
    const open = policyFetch(parseOutboundPolicy(undefined, true));
    expect((await open(`http://127.0.0.1:${port}/`)).status).toBe(200);
  });

  it("refuses redirects (a second destination nobody named)", async () => {
    const redirecting = http.createServer((_req, res) => res.writeHead(302, { location: "http://169.254.169.254/" }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
    const at = (redirecting.address() as AddressInfo).port;
    try {
      const open = policyFetch(parseOutboundPolicy(undefined, true));
      await expect(open(`http://127.0.0.1:${at}/`)).rejects.toThrow();
    } finally {
      await new Promise((resolve) => redirecting.close(resolve));
    }
  });
});
