// Child processes for the local stack. Each child runs in its own process group so that stopping it
// stops everything it started (npx wrappers, next's workers), and a stop waits until it has exited.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

export interface Managed {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { logPrefix?: boolean; quiet?: boolean } = {},
): Managed {
  const child = spawn(command, args, {
    ...options,
    detached: true, // new process group: we signal the whole group
    stdio: options.quiet ? ["ignore", "ignore", "pipe"] : ["ignore", "pipe", "pipe"],
  });
  const prefix = `[${name}] `;
  const forward = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    stream?.on("data", (chunk: Buffer) => {
      if (options.quiet && out === process.stdout) return;
      const text = chunk.toString();
      out.write(options.logPrefix === false ? text : text.replace(/^(?=.)/gm, prefix));
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(child, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 8000);
      await exited;
      clearTimeout(timer);
      signalGroup(child, "SIGKILL"); // anything the leader left behind in its group
    })();
    return stopping;
  };
  return { name, child, stop, exited };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * True when nothing listens on host:port. With `host` null: when a server can listen on `port` on every
 * address (IPv6 and IPv4 where there are both), as next start does.
 */
export function isPortFree(port: number, host: string | null = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.once("listening", () => server.close(() => resolve(true)));
    if (host === null) server.listen(port);
    else server.listen(port, host);
  });
}

/** A port the OS hands out itself (bind to port 0): free now, but from the range outgoing connections use. */
function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The first port the kernel gives outgoing connections (Linux's ip_local_port_range), else the IANA range's. */
function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    // not Linux
  }
  return 49152;
}

/**
 * A port that is free now on every address, below the range the kernel takes outgoing connections'
 * ports from: a port chosen in that range can be taken by a connection the stack opens meanwhile (to the
 * chain, the database) before the server meant for it listens, and the server then fails to start.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1024, high - 20_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    // A port handed out before may not be listened on yet: never twice from one process (taken before
    // the check, so calls at the same moment cannot both pick it).
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await isPortFree(port, null)) return port;
    handedOut.delete(port);
  }
  return osPort();
}

const handedOut = new Set<number>();

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 200, failed }: { timeoutMs?: number; intervalMs?: number; failed?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const reason = failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${String(lastError)})` : ""}`);
}

/** Run a command to completion; rejects with its output when it fails. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(" ")} failed (exit ${code}):\n${output}`)),
    );
  });
}
