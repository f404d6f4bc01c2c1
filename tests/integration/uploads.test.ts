// Uploads at real size over real HTTP: the tus protocol on /api/uploads (an interrupted upload resumes
// from the server's offset; a body past its length is cut off while it streams), and datasets made from
// archives (5,000 pages in one .tar.gz; a zip mixing good and bad entries keeps the good and names each bad).
import http from "node:http";
import { afterAll, describe, expect, inject, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createDb } from "@/lib/db-client";
import { makeTarGz, makeZip } from "../helpers/archives";
import { signInOverHttp } from "../helpers/siwe";
import { createUpload as createUploadOn, tusHeaders } from "../helpers/tus";

const stack = inject("stack");
const rows = createDb(stack.databaseUrl);
const owner = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
let ownerCookie = "";
const fields = { name: "Workshop manual", description: "Pages of a manual, uploaded as an archive.", license: "CC BY 4.0", price: "0.001", tags: "manual" };

afterAll(async () => {
  await rows.$disconnect();
});

async function cookieOf(which: "owner" | "stranger"): Promise<string> {
  if (which === "owner") return (ownerCookie ||= await signInOverHttp(stack.appUrl, stack.chainId, owner));
  return signInOverHttp(stack.appUrl, stack.chainId, stranger);
}

const createUpload = (cookie: string, name: string, length: number) => createUploadOn(stack.appUrl, cookie, name, length);

async function offsetOf(cookie: string, url: string): Promise<{ status: number; offset: number }> {
  const response = await fetch(url, { method: "HEAD", headers: tusHeaders(cookie) });
  return { status: response.status, offset: Number(response.headers.get("upload-offset")) };
}

async function patch(cookie: string, url: string, offset: number, body: Uint8Array): Promise<Response> {
  return fetch(url, {
    method: "PATCH",
    headers: tusHeaders(cookie, { "upload-offset": String(offset), "content-type": "application/offset+octet-stream" }),
    body: Buffer.from(body),
  });
}

/** Upload a whole file in one PATCH; returns its upload id. */
async function uploadWhole(cookie: string, name: string, bytes: Uint8Array): Promise<string> {
  const created = await createUpload(cookie, name, bytes.byteLength);
  expect(created.status).toBe(201);
  expect((await patch(cookie, created.url, 0, bytes)).status).toBe(204);
  return created.id;
}

/**
 * A PATCH sent with chunked transfer encoding (no Content-Length), `chunk` bytes at a time, until the
 * server answers or `max` bytes are sent; optionally the connection is dropped after `dropAfter` bytes.
 */
function streamPatch(
  cookie: string,
  url: string,
  offset: number,
  { chunk, max, dropAfter }: { chunk: number; max: number; dropAfter?: number },
): Promise<{ status: number | null; sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let answered = false;
    const request = http.request(url, {
      method: "PATCH",
      headers: tusHeaders(cookie, { "upload-offset": String(offset), "content-type": "application/offset+octet-stream", "transfer-encoding": "chunked" }),
    });
    request.on("response", (response) => {
      answered = true;
      response.resume();
      resolve({ status: response.statusCode ?? null, sent });
      request.destroy();
    });
    request.on("error", () => {
      if (!answered) resolve({ status: null, sent });
    });
    request.on("close", () => {
      if (!answered) resolve({ status: null, sent });
    });
    const pump = () => {
      if (answered || request.destroyed) return;
      if (dropAfter !== undefined && sent >= dropAfter) {
        // The tab closes: the connection goes without a goodbye.
        setTimeout(() => request.destroy(), 300);
        return;
      }
      if (sent >= max) return void request.end();
      sent += chunk;
      if (request.write(Buffer.alloc(chunk, 0x61))) setImmediate(pump);
      else request.once("drain", pump);
    };
    pump();
  });
}

describe("resumable uploads (tus)", () => {
  it("refuses callers who are not signed in, and hides a wallet's uploads from other wallets", async () => {
    const anonymous = await fetch(`${stack.appUrl}/api/uploads`, { method: "POST", headers: { "tus-resumable": "1.0.0", "upload-length": "5" } });
    expect(anonymous.status).toBe(401);
    const cookie = await cookieOf("owner");
    const created = await createUpload(cookie, "mine.txt", 5);
    expect(created.status).toBe(201);
    expect((await offsetOf(await cookieOf("stranger"), created.url)).status).toBe(404);
  });

  it("resumes an upload dropped mid-way from the offset the server reports, and makes a dataset of it", async () => {
    const cookie = await cookieOf("owner");
    const page = "The torque for the cylinder head bolts is 90 newton metres, tightened in three passes.\n";
    const text = page.repeat(Math.ceil((2 * 1024 * 1024) / page.length)).slice(0, 2 * 1024 * 1024);
    const bytes = new TextEncoder().encode(text);
    const created = await createUpload(cookie, "head-bolts.txt", bytes.byteLength);
    expect(created.status).toBe(201);
    // The first attempt sends a real prefix of the file, then the connection drops.
    const first = await new Promise<{ status: number | null }>((resolve) => {
      const request = http.request(created.url, {
        method: "PATCH",
        headers: tusHeaders(cookie, { "upload-offset": "0", "content-type": "application/offset+octet-stream", "content-length": String(bytes.byteLength) }),
      });
      request.on("response", (response) => resolve({ status: response.statusCode ?? null }));
      request.on("error", () => resolve({ status: null }));
      request.write(Buffer.from(bytes.subarray(0, 1024 * 1024)), () => setTimeout(() => request.destroy(), 500));
    });
    expect(first.status).toBeNull();
    let offset = 0;
    await expect.poll(async () => (offset = (await offsetOf(cookie, created.url)).offset)).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(1024 * 1024);
    // The retry sends only what the server lacks.
    const rest = await patch(cookie, created.url, offset, bytes.subarray(offset));
    expect(rest.status).toBe(204);
    expect(Number(rest.headers.get("upload-offset"))).toBe(bytes.byteLength);

    const made = await fetch(`${stack.appUrl}/api/datasets`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ ...fields, name: "Head bolts", uploads: [created.id] }),
    });
    const body = (await made.json()) as { id: string; refused: unknown[] };
    expect(made.status, JSON.stringify(body)).toBe(201);
    expect(body.refused).toEqual([]);
    const stored = await rows.document.findMany({ where: { datasetId: body.id }, select: { filename: true, bytes: true } });
    expect(stored).toEqual([{ filename: "head-bolts.txt", bytes: bytes.byteLength }]);
    // A used upload is gone.
    expect((await offsetOf(cookie, created.url)).status).toBe(404);
  });

  it("cuts off a body past the upload's length while it streams, and refuses a declared size over the limit", async () => {
    const cookie = await cookieOf("owner");
    const declared = 256 * 1024;
    const created = await createUpload(cookie, "short.txt", declared);
    const result = await streamPatch(cookie, created.url, 0, { chunk: 64 * 1024, max: 64 * 1024 * 1024 });
    // The server answers 413 or closes the connection: either way long before the sender was done, so
    // the body was never buffered whole.
    expect([413, null]).toContain(result.status);
    expect(result.sent).toBeLessThan(32 * 1024 * 1024);
    expect((await offsetOf(cookie, created.url)).offset).toBeLessThanOrEqual(declared);

    const huge = await createUpload(cookie, "huge.tar", 201 * 1024 * 1024);
    expect(huge.status).toBe(413);

    // What a wallet may still send counts by declared length: uploads never written to hold their room.
    const fresh = await cookieOf("stranger");
    expect((await createUpload(fresh, "a.tar", 200 * 1024 * 1024)).status).toBe(201);
    expect((await createUpload(fresh, "b.tar", 200 * 1024 * 1024)).status).toBe(201);
    expect((await createUpload(fresh, "c.tar", 1024)).status).toBe(413);
  });

  it("counts every upload against the wallet's room: no deferred lengths, and creations sent at once are counted one by one", async () => {
    const cookie = await signInOverHttp(stack.appUrl, stack.chainId, privateKeyToAccount(generatePrivateKey()));
    // A length declared later would count as nothing until its bytes arrive.
    const deferred = await fetch(`${stack.appUrl}/api/uploads`, { method: "POST", headers: tusHeaders(cookie, { "upload-defer-length": "1" }) });
    expect(deferred.status).toBe(400);
    expect(await deferred.text()).toMatch(/Declare the upload's length/);
    // A creation carries no data (its bytes come by PATCH): the wallet's creation lock is never held while a body streams.
    const withData = await fetch(`${stack.appUrl}/api/uploads`, {
      method: "POST",
      headers: tusHeaders(cookie, { "upload-length": "5", "content-type": "application/offset+octet-stream" }),
      body: "hello",
    });
    expect(withData.status).toBe(400);
    expect(await withData.text()).toMatch(/then send its bytes with PATCH/);
    // Five creations of 200 MB sent together: the wallet's room (400 MB) takes two.
    const racing = await Promise.all(Array.from({ length: 5 }, (_, i) => createUpload(cookie, `part-${i}.tar`, 200 * 1024 * 1024)));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 201, 413, 413, 413]);
  });
});

describe("datasets from archives", () => {
  it("makes one dataset of a .tar.gz of 5,000 pages, named by their paths", async () => {
    const cookie = await cookieOf("owner");
    const pages = Array.from({ length: 5000 }, (_, i) => ({
      name: `manual/chapter-${Math.floor(i / 100)}/page-${String(i).padStart(4, "0")}.md`,
      content: `# Page ${i}\n\nTorque setting ${i * 7} newton metres for part ${i}.`,
    }));
    const id = await uploadWhole(cookie, "manual.tar.gz", await makeTarGz(pages));
    const made = await fetch(`${stack.appUrl}/api/datasets`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ ...fields, uploads: [id] }),
    });
    const body = (await made.json()) as { id: string; refused: unknown[] };
    expect(made.status, JSON.stringify(body).slice(0, 500)).toBe(201);
    expect(body.refused).toEqual([]);
    await expect
      .poll(async () => (await rows.dataset.findUniqueOrThrow({ where: { listingId: body.id } })).status, { timeout: 90_000 })
      .toBe("ready");
    expect(await rows.document.count({ where: { datasetId: body.id } })).toBe(5000);
    const last = await rows.document.findFirstOrThrow({ where: { datasetId: body.id, position: 4999 }, select: { filename: true } });
    expect(last.filename).toBe("manual.tar.gz/manual/chapter-49/page-4999.md");
  });

  it("keeps an archive's good entries and names each bad one with its reason", async () => {
    const cookie = await cookieOf("owner");
    const innermost = await makeZip([{ name: "deep.txt", content: "Too deep." }]);
    const inner = await makeZip([
      { name: "inner.txt", content: "One level down is fine." },
      { name: "innermost.zip", content: innermost },
    ]);
    const zip = await makeZip([
      { name: "pages/intro.txt", content: "Introduction to the manual." },
      { name: "xx/evil.txt", rawName: "../evil.txt", content: "climbs out" },
      { name: "xetc/passwd", rawName: "/etc/passwd", content: "root:x:0:0" },
      { name: "pages/link", content: "/etc/shadow", mode: 0o120777 },
      { name: "pages/secret.txt", content: "hidden", encrypted: true },
      { name: "pages/bomb.txt", content: new Uint8Array(4 * 1024 * 1024) },
      { name: "pages/photo.txt", content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]) },
      { name: "pages/bad.json", content: "{oops" },
      { name: "inner.zip", content: inner },
    ]);
    const archive = await uploadWhole(cookie, "mixed.zip", zip);
    const single = await uploadWhole(cookie, "notes.txt", new TextEncoder().encode("Loose notes beside the archive."));
    const made = await fetch(`${stack.appUrl}/api/datasets`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ ...fields, name: "Mixed archive", uploads: [archive, single] }),
    });
    const body = (await made.json()) as { id: string; refused: { name: string; message: string }[] };
    expect(made.status, JSON.stringify(body)).toBe(201);
    const reasons = Object.fromEntries(body.refused.map((r) => [r.name, r.message]));
    expect(reasons).toEqual({
      "mixed.zip/../evil.txt": expect.stringMatching(/climbs out of the archive/),
      "mixed.zip//etc/passwd": expect.stringMatching(/absolute path/),
      "mixed.zip/pages/link": expect.stringMatching(/symbolic link/),
      "mixed.zip/pages/secret.txt": expect.stringMatching(/encrypted/),
      "mixed.zip/pages/bomb.txt": expect.stringMatching(/zip bomb/),
      "mixed.zip/pages/photo.txt": expect.stringMatching(/PNG image/),
      "mixed.zip/pages/bad.json": expect.stringMatching(/not valid JSON/),
      "mixed.zip/inner.zip/innermost.zip": expect.stringMatching(/only 1 level deep/),
    });
    const stored = await rows.document.findMany({ where: { datasetId: body.id }, orderBy: { position: "asc" }, select: { filename: true } });
    expect(stored.map((d) => d.filename)).toEqual(["mixed.zip/pages/intro.txt", "mixed.zip/inner.zip/inner.txt", "notes.txt"]);
    await expect.poll(async () => (await rows.dataset.findUniqueOrThrow({ where: { listingId: body.id } })).status).toBe("ready");

    // An archive with nothing usable makes no draft, and its upload is kept for another try.
    const bad = await uploadWhole(cookie, "bad.zip", await makeZip([{ name: "xx/evil.txt", rawName: "../evil.txt", content: "no" }]));
    const before = await rows.listing.count({ where: { creator: owner.address } });
    const refused = await fetch(`${stack.appUrl}/api/datasets`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json" },
      body: JSON.stringify({ ...fields, uploads: [bad] }),
    });
    const error = (await refused.json()) as { error: { message: string; files: { name: string }[] } };
    expect(refused.status).toBe(400);
    expect(error.error.files.map((f) => f.name)).toEqual(["mixed.zip/../evil.txt".replace("mixed", "bad")]);
    expect(await rows.listing.count({ where: { creator: owner.address } })).toBe(before);
  });
});
