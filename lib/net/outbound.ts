// The outbound request policy for addresses that users give the server (model endpoints): a signed-in
// wallet costs nothing, so without it anyone could make the server fetch loopback services, the private
// network or a cloud metadata endpoint (SSRF) and read the reply.
//
// The check is made on the address the socket actually connects to: the host name is resolved once, in
// the connection's own `lookup`, and the connection uses exactly the address that passed. A name that
// resolves to a public address for a check and to 127.0.0.1 for the connection (DNS rebinding) cannot
// get through, because there is only one resolution. IP literals never reach `lookup`, so they are checked
// before the request starts. Ranges are matched with Node's net.BlockList.
import dns from "node:dns";
import net from "node:net";
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from "undici";

/** Why an address is not on the public internet (null: it is). */
export type AddressClass = "loopback" | "private" | "link-local" | "multicast" | "cloud metadata" | "reserved" | null;

const RANGES: [AddressClass, "ipv4" | "ipv6", string, number][] = [
  ["cloud metadata", "ipv4", "169.254.169.254", 32],
  ["cloud metadata", "ipv4", "100.100.100.200", 32],
  ["cloud metadata", "ipv6", "fd00:ec2::254", 128],
  ["loopback", "ipv4", "127.0.0.0", 8],
  ["loopback", "ipv6", "::1", 128],
  ["reserved", "ipv4", "0.0.0.0", 8],
  ["reserved", "ipv6", "::", 128],
  ["private", "ipv4", "10.0.0.0", 8],
  ["private", "ipv4", "100.64.0.0", 10],
  ["private", "ipv4", "172.16.0.0", 12],
  ["private", "ipv4", "192.168.0.0", 16],
  ["private", "ipv6", "fc00::", 7],
  ["link-local", "ipv4", "169.254.0.0", 16],
  ["link-local", "ipv6", "fe80::", 10],
  ["multicast", "ipv4", "224.0.0.0", 4],
  ["multicast", "ipv6", "ff00::", 8],
  ["reserved", "ipv4", "192.0.0.0", 24],
  ["reserved", "ipv4", "192.0.2.0", 24],
  ["reserved", "ipv4", "198.18.0.0", 15],
  ["reserved", "ipv4", "198.51.100.0", 24],
  ["reserved", "ipv4", "203.0.113.0", 24],
  ["reserved", "ipv4", "240.0.0.0", 4],
  ["reserved", "ipv6", "2001:db8::", 32],
  ["reserved", "ipv6", "fec0::", 10],
];

const BLOCKS = RANGES.map(([kind, family, address, prefix]) => {
  const list = new net.BlockList();
  list.addSubnet(address, prefix, family);
  return { kind, list, family };
});

/** An IPv6 address that carries an IPv4 one (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::a.b.c.d). */
function embeddedIpv4(address: string): string | null {
  const match = /^(?:::ffff:|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!match) return null;
  if (match[1]) return match[1];
  const high = parseInt(match[2], 16);
  const low = parseInt(match[3], 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export function classifyAddress(address: string): AddressClass {
  const inner = embeddedIpv4(address);
  if (inner) return classifyAddress(inner);
  const family = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : null;
  if (!family) return "reserved";
  for (const block of BLOCKS) {
    if (block.family === family && block.list.check(address, family)) return block.kind;
  }
  return null;
}

/**
 * Which non-public destinations are allowed. `all`: any (local development, so Ollama on localhost
 * works). Otherwise exactly the listed host names (any address they resolve to) and IP ranges.
 */
export interface OutboundPolicy {
  allowAll: boolean;
  hosts: Set<string>;
  ranges: net.BlockList;
  /** The setting the policy came from, for messages. */
  describe: string;
}

/**
 * MODEL_HOSTS_ALLOW: unset → every address on a local chain, only public ones elsewhere; "none" → only
 * public ones; "*" → any; else a comma list of host names, IP addresses and CIDR ranges.
 */
export function parseOutboundPolicy(setting: string | undefined, localChain: boolean): OutboundPolicy {
  const ranges = new net.BlockList();
  const hosts = new Set<string>();
  const value = setting?.trim();
  if (!value) return { allowAll: localChain, hosts, ranges, describe: localChain ? "a local chain (every address allowed)" : "public addresses only" };
  if (value === "*") return { allowAll: true, hosts, ranges, describe: "MODEL_HOSTS_ALLOW=*" };
  if (value === "none") return { allowAll: false, hosts, ranges, describe: "MODEL_HOSTS_ALLOW=none" };
  for (const raw of value.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const [address, prefixText] = entry.split("/");
    const family = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : null;
    if (family) {
      const prefix = prefixText === undefined ? (family === "ipv4" ? 32 : 128) : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === "ipv4" ? 32 : 128)) {
        throw new Error(`MODEL_HOSTS_ALLOW: "${raw.trim()}" is not a valid IP range`);
      }
      ranges.addSubnet(address, prefix, family);
    } else if (/^[a-z0-9.-]+$/.test(entry) && prefixText === undefined) {
      hosts.add(entry);
    } else {
      throw new Error(`MODEL_HOSTS_ALLOW: "${raw.trim()}" is neither a host name nor an IP range`);
    }
  }
  return { allowAll: false, hosts, ranges, describe: `MODEL_HOSTS_ALLOW=${value}` };
}

/** Thrown (as a fetch failure's cause) when a destination is refused; its message is safe to show. */
export class OutboundBlockedError extends Error {
  readonly code = "E_OUTBOUND_BLOCKED";
  constructor(host: string, address: string, kind: AddressClass) {
    super(
      `${host}${host === address ? "" : ` resolves to ${address}`}, a ${kind} address; the server does not send requests there unless MODEL_HOSTS_ALLOW allows it`,
    );
    this.name = "OutboundBlockedError";
  }
}

/** Null when `policy` lets the server connect to `address` (reached through the name `host`). */
export function refusal(policy: OutboundPolicy, host: string, address: string): OutboundBlockedError | null {
  if (policy.allowAll) return null;
  const kind = classifyAddress(address);
  if (kind === null) return null;
  if (policy.hosts.has(host.toLowerCase())) return null;
  const plain = embeddedIpv4(address) ?? address;
  if (policy.ranges.check(plain, net.isIPv4(plain) ? "ipv4" : "ipv6")) return null;
  return new OutboundBlockedError(host, address, kind);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

function guardedLookup(policy: OutboundPolicy) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, options.all ? [] : "", undefined);
      // Every address the name has must pass: the connection may try any of them.
      for (const { address } of addresses) {
        const refused = refusal(policy, hostname, address);
        if (refused) return callback(refused as NodeJS.ErrnoException, options.all ? [] : "", undefined);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

const agents = new WeakMap<OutboundPolicy, Agent>();

/**
 * A fetch that connects only where `policy` allows. Redirects are refused (a redirect is a second
 * destination the caller did not name).
 */
export function policyFetch(policy: OutboundPolicy): typeof fetch {
  let agent = agents.get(policy);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(policy) as unknown as net.LookupFunction } });
    agents.set(policy, agent);
  }
  const dispatcher = agent;
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (net.isIP(host)) {
      const refused = refusal(policy, host, host);
      if (refused) throw new TypeError("fetch failed", { cause: refused });
    }
    return undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as UndiciRequestInit),
      redirect: "error",
      dispatcher,
    }) as unknown as Promise<Response>;
  }) as typeof fetch;
}

/** The refusal in a fetch failure's cause chain, if that is why it failed. */
export function blockedCause(error: unknown): OutboundBlockedError | null {
  let current = error as { cause?: unknown } | undefined;
  for (let depth = 0; current && depth < 6; depth++) {
    if (current instanceof OutboundBlockedError) return current;
    current = current.cause as typeof current;
  }
  return null;
}
