// The web server under attack, over real HTTP against the running app: bodies that lie about their
// size or claim none, requests that try to reach internal addresses through model endpoints (SSRF, by IP
// and by a host name that resolves to loopback), and a health check that must not leak configuration.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { PrivateKeyAccount } from "viem/accounts";
import { createDb, type Db } from "../../lib/db-client";
import { inOneRateWindow } from "../helpers/rate-window";
import { ChatFixtures, clientId, readChunks } from "../helpers/chat-fixtures";
import { PDF_LIMITS } from "../../lib/rag/limits";
import { STAND_IN_HOST, startStandIn, type StandIn } from "../helpers/openai-stand-in";
import { makePdf } from "../helpers/pdf";

const stack = inject("stack");
const fx = new ChatFixtures(stack);
const app = new URL(stack.appUrl);
const rpcPort = new URL(stack.rpcUrl).port;

let db: Db;
let standIn: StandIn;
let owner: PrivateKeyAccount;
let cookie: string;

beforeAll(async () => {
  db = createDb(stack.databaseUrl);
  standIn = await startStandIn({ reply: () => "Any reply [1]." });
  owner = await fx.account();
  cookie = await fx.signIn(owner);
});

afterAll(async () => {
  await standIn?.stop();
  await db?.$disconnect();
});

/**
 * POST `total` bytes in chunks with no Content-Length (chunked transfer encoding), stopping as soon as
 * the server answers. Returns the status and how many bytes had been written when the answer came.
 */
function streamUntilAnswered(path: string, headers: Record<string, string>, total: number, chunkBytes = 64 * 1024) {
  return new Promise<{ status: number; written: number; body: string }>((resolve, reject) => {
    let written = 0;
    let answered = false;
    const request = http.request({ host: app.hostname, port: app.port, path, method: "POST", headers: { ...headers, "transfer-encoding": "chunked" } }, (response) => {
      answered = true;
      const at = written;
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (text: string) => (body += text));
      response.on("end", () => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, written: at, body });
      });
    });
    request.on("error", (error) => {
      if (!answered) reject(error);
    });
    const chunk = Buffer.alloc(chunkBytes, 0x61);
    const pump = () => {
      while (!answered && written < total) {
        written += chunk.length;
        if (!request.write(chunk)) return void request.once("drain", pump);
      }
      if (!answered) request.end();
    };
    pump();
  });
}

describe("request bodies are limited as they arrive", () => {
  it("refuses an unauthenticated sign-in body that streams past 32 KiB without a Content-Length", async () => {
    const result = await streamUntilAnswered("/api/auth/verify", { "content-type": "application/json" }, 64 * 1024 * 1024);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).error.code).toBe("payload_too_large");
    // Answered long before the 64 MB were sent: the server stopped reading at its limit.
    expect(result.written).toBeLessThan(8 * 1024 * 1024);
  });

  it("refuses a chunked dataset upload past the upload limit, and stores nothing", async () => {
    const before = await db.listing.count({ where: { creator: owner.address } });
    const result = await streamUntilAnswered(
      "/api/datasets",
      { "content-type": "multipart/form-data; boundary=----kip", cookie },
      120 * 1024 * 1024,
      256 * 1024,
    );
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).error.message).toMatch(/larger than .*MB/);
    // The limit is 25 MB of files plus framing: the answer came well before 120 MB were sent.
    expect(result.written).toBeLessThan(60 * 1024 * 1024);
    expect(await db.listing.count({ where: { creator: owner.address } })).toBe(before);
  });

  it("refuses a PDF over the page limit with a message naming it, and stores nothing", async () => {
    const before = await db.listing.count({ where: { creator: owner.address } });
    const form = new FormData();
    for (const [name, value] of Object.entries({ name: "Long report", description: "A PDF with too many pages.", license: "CC0", price: "0.001" })) {
      form.set(name, value);
    }
    const pages = Array.from({ length: PDF_LIMITS.maxPages + 1 }, (_, i) => [`Page ${i + 1}.`]);
    form.append("files", new Blob([new Uint8Array(makePdf(pages))], { type: "application/pdf" }), "long.pdf");
    const response = await fetch(`${stack.appUrl}/api/datasets`, { method: "POST", headers: { cookie }, body: form });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      `long.pdf has ${PDF_LIMITS.maxPages + 1} pages; a PDF may have at most ${PDF_LIMITS.maxPages}. Split it into smaller PDFs.`,
    );
    expect(await db.listing.count({ where: { creator: owner.address } })).toBe(before);
  });

  it("refuses a declared Content-Length over the limit before reading anything", async () => {
    const response = await fetch(`${stack.appUrl}/api/auth/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "x".repeat(40 * 1024), signature: "0x" }),
    });
    expect(response.status).toBe(413);
  });
});

describe("expensive routes are rate-limited across servers, with Retry-After", () => {
  /** Sends `count` requests (10 at a time) and returns their statuses in order, plus the last response. */
  async function hammer(count: number, send: () => Promise<Response>) {
    await inOneRateWindow(db);
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < count; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, count - i) }, send));
      for (const response of batch) {
        statuses.push(response.status);
        last = response;
        await response.body?.cancel();
      }
    }
    return { statuses, last: last! };
  }
  const asClient = (address: string) => ({ "x-forwarded-for": address });
  const limit = (name: string) => Number(stack.env[name]);

  it("limits sign-in nonces per client address: one database insert each", async () => {
    const client = asClient("198.51.100.11");
    const before = await db.authNonce.count();
    const { statuses, last } = await hammer(limit("NONCE_RATE_LIMIT_IP") + 5, () => fetch(`${stack.appUrl}/api/auth/nonce`, { headers: client }));
    expect(statuses.filter((status) => status === 200)).toHaveLength(limit("NONCE_RATE_LIMIT_IP"));
    expect(statuses.slice(-5)).toEqual([429, 429, 429, 429, 429]);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(last.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    // Refused requests stored nothing; another client is not affected.
    expect(await db.authNonce.count()).toBeLessThanOrEqual(before + limit("NONCE_RATE_LIMIT_IP"));
    expect((await fetch(`${stack.appUrl}/api/auth/nonce`, { headers: asClient("198.51.100.12") })).status).toBe(200);
  });

  it("limits model connection tests per wallet, whatever address they come from", async () => {
    const wallet = await fx.account();
    const walletCookie = await fx.signIn(wallet);
    let n = 0;
    const perWallet = limit("MODEL_TEST_RATE_LIMIT_WALLET");
    const { statuses, last } = await hammer(perWallet + 2, () =>
      fetch(`${stack.appUrl}/api/models/test`, {
        method: "POST",
        // A fresh address for every request: the wallet's own limit still holds.
        headers: { "content-type": "application/json", cookie: walletCookie, ...asClient(`198.51.100.${100 + n++}`) },
        body: JSON.stringify({ provider: "offline" }),
      }),
    );
    expect(statuses.slice(0, perWallet).every((status) => status === 200)).toBe(true);
    expect(statuses.slice(perWallet)).toEqual([429, 429]);
    const body = (await fetch(`${stack.appUrl}/api/models/test`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: walletCookie, ...asClient("198.51.100.99") },
      body: JSON.stringify({ provider: "offline" }),
    }).then((r) => r.json())) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("too_many_requests");
    expect(body.error.message).toMatch(/Too many connection tests from this wallet\. Try again in \d+ s\./);
    expect(last.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("limits dataset uploads per wallet before reading the body", async () => {
    const wallet = await fx.account();
    const walletCookie = await fx.signIn(wallet);
    const perWallet = limit("UPLOAD_RATE_LIMIT_WALLET");
    const { statuses } = await hammer(perWallet + 1, () =>
      fetch(`${stack.appUrl}/api/datasets`, {
        method: "POST",
        headers: { "content-type": "text/plain", cookie: walletCookie, ...asClient("198.51.100.21") },
        body: "not a form",
      }),
    );
    // Those within the limit are read and refused for their type; the next is refused for the rate.
    expect(statuses).toEqual([...Array(perWallet).fill(415), 429]);
  });

  it("limits earnings reads per client address", async () => {
    const client = asClient("198.51.100.31");
    const { statuses, last } = await hammer(limit("EARNINGS_RATE_LIMIT_IP") + 2, () =>
      // A malformed address is the cheapest earnings request, and it still counts.
      fetch(`${stack.appUrl}/api/earnings/holders/0xnot-an-address`, { headers: client }),
    );
    expect(new Set(statuses.slice(0, limit("EARNINGS_RATE_LIMIT_IP")))).toEqual(new Set([400]));
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect(last.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await fetch(`${stack.appUrl}/api/earnings/protocol`, { headers: asClient("198.51.100.32") })).status).toBe(200);
  });
});

describe("model endpoints cannot reach internal addresses", () => {
  const testConnection = (baseUrl: string) =>
    fx.post("/api/models/test", cookie, { provider: "openai-compatible", baseUrl, modelName: "m" }).then(async (r) => ({ status: r.status, body: (await r.json()) as { ok?: boolean; error?: { message: string } } }));

  it("refuses loopback by name and by IP (in any spelling), private ranges and cloud metadata", async () => {
    const cases: [string, RegExp][] = [
      // localhost resolves to 127.0.0.1 (or ::1): the check is on the resolved address.
      [`http://localhost:${rpcPort}`, /localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
      [`http://127.0.0.1:${rpcPort}`, /127\.0\.0\.1, a loopback address/],
      [`http://0x7f000001:${rpcPort}`, /127\.0\.0\.1, a loopback address/],
      [`http://[::ffff:127.0.0.1]:${rpcPort}`, /a loopback address/],
      [`http://[::1]:${rpcPort}`, /::1, a loopback address/],
      ["http://169.254.169.254/latest", /169\.254\.169\.254, a cloud metadata address/],
      ["http://10.1.2.3/v1", /10\.1\.2\.3, a private address/],
      ["http://192.168.1.1/v1", /a private address/],
    ];
    for (const [url, message] of cases) {
      const { status, body } = await testConnection(url);
      expect(status, url).toBe(502);
      expect(body.error?.message, url).toMatch(message);
      expect(body.error?.message, url).toMatch(/MODEL_HOSTS_ALLOW/);
    }
    // What the policy allows still works (the stand-ins' address is in MODEL_HOSTS_ALLOW).
    const allowed = await testConnection(standIn.url);
    expect(allowed.status).toBe(200);
    expect(new URL(standIn.url).hostname).toBe(STAND_IN_HOST);
  });

  it("refuses a listed model whose endpoint is a loopback name in chat: the stand-in is never called and nothing is charged", async () => {
    // The stand-in listens on an allowed address; the listing names it through "localhost", which
    // resolves to 127.0.0.1 — refused — so the request must never reach any server.
    const port = new URL(standIn.url).port;
    const created = await fx.createApp(db, {
      systemPrompt: "Answer briefly.",
      prices: { app: 1000n, model: 1000n, datasets: [1000n] },
      datasets: [{ name: "Harbours", text: "The harbour master assigns every berth before the ship arrives." }],
      baseUrl: `http://localhost:${port}/v1`,
    });
    const charges = await fx.chargeSet(created.app.id);
    const payer = await fx.account();
    await fx.deposit(payer, 100_000n);
    const payerCookie = await fx.signIn(payer);
    const auth = await fx.authorize(payerCookie, payer);
    const before = standIn.requests.length;
    const response = await fx.post("/api/chat", payerCookie, {
      conversationId: clientId(),
      appId: created.app.id,
      trigger: "submit-message",
      message: { id: clientId(), text: "Who assigns the berths?" },
      payment: await fx.payment(charges, auth),
    });
    const chunks = await readChunks(response);
    const error = chunks.find((c) => c.type === "error")?.errorText as string;
    expect(error).toMatch(/a loopback address/);
    expect(error).toMatch(/not charged/);
    expect(standIn.requests.length).toBe(before);
    const receipt = await db.receipt.findFirstOrThrow({ where: { payer: payer.address } });
    expect(receipt.status).toBe("void");
  });
});

describe("health", () => {
  it("says what is up and nothing about the configuration", async () => {
    const response = await fetch(`${stack.appUrl}/api/health`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, chainId: stack.chainId, checks: { database: "ok", chain: "ok" } });
    // Besides the checks, only query counters (for the benchmark): numbers, not configuration.
    expect(Object.keys(body).sort()).toEqual(["chainId", "checks", "databaseRoundTrips", "ok", "preparedRoundTrips"]);
    expect(typeof body.databaseRoundTrips).toBe("number");
    expect(typeof body.preparedRoundTrips).toBe("number");
    expect(text).not.toContain(rpcPort);
    expect(text).not.toMatch(/127\.0\.0\.1|localhost|file:|postgres/);
  });
});

describe("token and contract metadata resolve", () => {
  it("serves what KipAssets' tokenURI, contractURI and slotURI name, in the ERC-3525 shapes, with images", async () => {
    const { createPublicClient, http: viemHttp } = await import("viem");
    const { kipAssetsAbi } = await import("../../lib/chain/generated");
    const client = createPublicClient({ transport: viemHttp(stack.rpcUrl) });
    const assets = stack.deployment.assets as `0x${string}`;
    // Token 1 is the first demo listing's token, minted by the seed.
    const tokenUri = await client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "tokenURI", args: [1n] });
    const slot = await client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "slotOf", args: [1n] });
    const token = await fetch(tokenUri);
    expect(token.status).toBe(200);
    const body = (await token.json()) as { name: string; image: string; slot: number; balance: string; properties: Record<string, unknown> };
    expect(body.slot).toBe(Number(slot));
    expect(body.properties).toMatchObject({ slot: Number(slot), kind: expect.stringMatching(/^(dataset|model|app)$/), shares: body.balance });
    expect(body.properties.slot_content_hash).toMatch(/^0x[0-9a-f]{64}$/);
    const image = await fetch(body.image);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await image.text()).toMatch(/^<svg /);

    const contractUri = await client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "contractURI" });
    const contract = (await (await fetch(contractUri)).json()) as { name: string; image: string; valueDecimals: number };
    expect(contract.name).toBe("KIP Marketplace assets");
    expect(contract.valueDecimals).toBe(await client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "valueDecimals" }));
    expect((await fetch(contract.image)).status).toBe(200);

    // The slot's document has an image too, and its bytes still hash to the on-chain content hash.
    const slotUri = await client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "slotURI", args: [slot] });
    const slotDocument = await (await fetch(slotUri)).text();
    const { keccak256, toBytes } = await import("viem");
    expect(keccak256(toBytes(slotDocument))).toBe(body.properties.slot_content_hash);
    expect((await fetch((JSON.parse(slotDocument) as { image: string }).image)).status).toBe(200);

    expect((await fetch(`${stack.appUrl}/api/metadata/tokens/999999`)).status).toBe(404);
    expect((await fetch(`${stack.appUrl}/api/metadata/tokens/abc`)).status).toBe(400);
  });
});

describe("deploying to a chain that is not local", () => {
  it("refuses the mock token, a short delay and public keys unless --unsafe names the risk", async () => {
    const { startAnvil, ANVIL_KEYS } = await import("../../scripts/stack/anvil");
    const { freePort } = await import("../../scripts/stack/process");
    const { spawnSync } = await import("node:child_process");
    const path = await import("node:path");
    const fs = await import("node:fs");
    // A chain that reports a testnet's id: only 31337 counts as local.
    const chain = await startAnvil({ port: await freePort(), chainId: 84532 });
    try {
      const result = spawnSync(path.resolve("node_modules/.bin/tsx"), ["scripts/deploy.ts"], {
        env: { ...process.env, RPC_URL: chain.rpcUrl, DEPLOYER_PRIVATE_KEY: ANVIL_KEYS[0], WITHDRAW_DELAY: "0", PAYMENT_TOKEN: "", SETTLER_PRIVATE_KEY: "", CHAIN_ID: "", LOCAL_CHAIN_IDS: "" },
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/Refusing to deploy to chain 84532/);
      expect(result.stderr).toMatch(/MockUSD/);
      expect(result.stderr).toMatch(/WITHDRAW_DELAY is 0 s/);
      expect(result.stderr).toMatch(/DEPLOYER_PRIVATE_KEY is one of anvil's public test keys/);
      expect(fs.existsSync("deployments/84532.json")).toBe(false);
    } finally {
      await chain.stop();
    }
  });
});
