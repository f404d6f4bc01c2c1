// The endpoints' model objects are made once per process (lib/ai/providers.ts) and the API key is
// sent per call: two listings on one endpoint share the object, and each call carries its own
// listing's key, never another's; the cached object holds no key.
import { randomBytes } from "node:crypto";
import { embedMany } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveModel, type ModelEndpointRecord } from "@/lib/ai/providers";
import { streamAnswer } from "@/lib/ai/stream";
import { encryptString, modelApiKeyAad } from "@/lib/crypto";
import { startStandIn, type StandIn } from "../helpers/openai-stand-in";

const encryptionKey = `0x${randomBytes(32).toString("hex")}`;

function listing(id: string, baseUrl: string, apiKey: string | null, embeddingsModel: string | null = null): ModelEndpointRecord {
  return {
    listingId: id,
    provider: "openai-compatible",
    baseUrl,
    modelName: "stand-in",
    apiKeyEncrypted: apiKey ? encryptString(apiKey, encryptionKey, modelApiKeyAad(id)) : null,
    embeddingsModel,
  };
}

async function answer(record: ModelEndpointRecord): Promise<string> {
  const resolved = resolveModel(record, encryptionKey);
  let text = "";
  for await (const part of streamAnswer({ model: resolved.model, headers: resolved.headers, instructions: "Tutor.", messages: [{ role: "user", content: "Hi" }], maxOutputTokens: 50 })) {
    if (part.type === "text-delta") text += part.text;
  }
  return text;
}

describe("resolveModel", () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn({ reply: () => "Hello there." });
  });
  afterAll(() => standIn.stop());

  it("reuses one model object per endpoint and sends each listing's own key with each call", async () => {
    const mine = listing("listing-mine", standIn.url, "sk-mine");
    // A second listing pointed at the same endpoint with a key of its own, and a third with none.
    const copycat = listing("listing-copycat", standIn.url, "sk-copycat");
    const keyless = listing("listing-keyless", standIn.url, null);
    const a = resolveModel(mine, encryptionKey);
    const b = resolveModel(copycat, encryptionKey);
    expect(b.model).toBe(a.model);
    expect(resolveModel(mine, encryptionKey).model).toBe(a.model);
    expect(resolveModel({ ...mine, baseUrl: `${standIn.url}/other` }, encryptionKey).model).not.toBe(a.model);
    expect(resolveModel({ ...mine, modelName: "another" }, encryptionKey).model).not.toBe(a.model);
    // The cached object holds no key.
    expect(JSON.stringify(a.model)).not.toContain("sk-mine");

    const before = standIn.requests.length;
    expect(await answer(mine)).toBe("Hello there.");
    expect(await answer(copycat)).toBe("Hello there.");
    expect(await answer(keyless)).toBe("Hello there.");
    expect(await answer(mine)).toBe("Hello there.");
    const sent = standIn.requests.slice(before).map((r) => r.headers.authorization);
    expect(sent).toEqual(["Bearer sk-mine", "Bearer sk-copycat", undefined, "Bearer sk-mine"]);
  });

  it("sends the key with embeddings calls too", async () => {
    const record = listing("listing-embeddings", standIn.url, "sk-embed", "stand-in-embed");
    const resolved = resolveModel(record, encryptionKey);
    expect(resolved.embeddings).not.toBeNull();
    expect(resolveModel(record, encryptionKey).embeddings).toBe(resolved.embeddings);
    const before = standIn.requests.length;
    await embedMany({ model: resolved.embeddings!, values: ["a question"], headers: resolved.headers, maxRetries: 0 });
    const request = standIn.requests.slice(before).find((r) => r.path.endsWith("/embeddings"));
    expect(request?.headers.authorization).toBe("Bearer sk-embed");
  });

  it("makes the offline model without a key or headers", () => {
    const resolved = resolveModel({ listingId: "offline", provider: "offline", baseUrl: null, modelName: "extractive", apiKeyEncrypted: null }, encryptionKey);
    expect(resolved.kind).toBe("offline");
    expect(resolved.headers).toEqual({});
  });
});
