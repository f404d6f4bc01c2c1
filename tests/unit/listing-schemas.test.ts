// The input rules shared by the listing API routes and the create forms.
import { describe, expect, it } from "vitest";
import { appFieldsSchema, datasetFieldsSchema, modelFieldsSchema } from "@/lib/listings/schemas";

const base = { name: "Good name", description: "A long enough description.", price: "0.002" };
const messages = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  result.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];

describe("listing fields", () => {
  it("accepts a price from 0 to 1000 as a decimal string and nothing else", () => {
    for (const price of ["0", "0.000001", "12.5", "1000"]) expect(datasetFieldsSchema.safeParse({ ...base, license: "CC0", price }).success).toBe(true);
    for (const [price, message] of [
      ["1000.000001", "price: must be at most 1000 per query"],
      ["-1", "price: must be a decimal number such as 0.002"],
      ["1e3", "price: must be a decimal number such as 0.002"],
      ["", "price: must be a decimal number such as 0.002"],
    ]) {
      expect(messages(datasetFieldsSchema.safeParse({ ...base, license: "CC0", price }))).toContain(message);
    }
  });

  it("takes tags as a list or a comma-separated string, lower-cased, at most 8", () => {
    expect(datasetFieldsSchema.parse({ ...base, license: "CC0", tags: " History, LAW ,, médecine" }).tags).toEqual(["history", "law", "médecine"]);
    expect(messages(datasetFieldsSchema.safeParse({ ...base, license: "CC0", tags: "a,b,c,d,e,f,g,h,i" }))).toContain("tags: at most 8 tags");
    expect(messages(datasetFieldsSchema.safeParse({ ...base, license: "CC0", tags: ["#bad"] }))[0]).toMatch(/^tags.0: tags are 1-32 letters/);
    expect(messages(datasetFieldsSchema.safeParse({ ...base, license: "" }))).toContain("license: say under which terms the documents may be used");
  });
});

describe("model fields", () => {
  it("needs an http(s) base URL without credentials, query or fragment, and a model id", () => {
    const parsed = modelFieldsSchema.parse({ ...base, provider: "openai-compatible", baseUrl: "https://api.example.com/v1///", modelName: " m1 ", apiKey: "" });
    expect(parsed).toMatchObject({ baseUrl: "https://api.example.com/v1", modelName: "m1", apiKey: undefined });
    expect(messages(modelFieldsSchema.safeParse({ ...base, provider: "openai-compatible", baseUrl: "javascript:alert(1)", modelName: "m" }))[0]).toMatch(/^baseUrl: must be an http\(s\) URL/);
    expect(messages(modelFieldsSchema.safeParse({ ...base, provider: "openai-compatible", baseUrl: "https://x.example/v1?key=1", modelName: "m" }))[0]).toMatch(/must not contain credentials, a query or a fragment/);
    expect(messages(modelFieldsSchema.safeParse({ ...base, provider: "openai-compatible", baseUrl: "https://x.example/v1" }))[0]).toMatch(/^modelName: /);
  });

  it("drops endpoint fields for the offline model", () => {
    expect(modelFieldsSchema.parse({ ...base, provider: "offline", baseUrl: "https://x.example", apiKey: "k" })).toMatchObject({ provider: "offline", baseUrl: undefined, apiKey: undefined });
    expect(modelFieldsSchema.safeParse({ ...base, provider: "other" }).success).toBe(false);
  });
});

describe("app fields", () => {
  const ids = ["a".repeat(25), "b".repeat(25)];
  const app = { ...base, systemPrompt: "Answer from the sources.", modelId: "c".repeat(25), datasetIds: ids };
  it("needs a model, 1-8 distinct datasets and top-k from 1 to 12 (4 by default)", () => {
    expect(appFieldsSchema.parse(app).topK).toBe(4);
    expect(messages(appFieldsSchema.safeParse({ ...app, datasetIds: [] }))).toContain("datasetIds: pick at least one dataset");
    expect(messages(appFieldsSchema.safeParse({ ...app, datasetIds: [ids[0], ids[0]] }))).toContain("datasetIds: a dataset is picked twice");
    expect(messages(appFieldsSchema.safeParse({ ...app, datasetIds: Array.from({ length: 9 }, (_, i) => String(i).repeat(25)) }))).toContain("datasetIds: pick at most 8 datasets");
    expect(messages(appFieldsSchema.safeParse({ ...app, topK: 13 }))).toContain("topK: must be at most 12");
    expect(messages(appFieldsSchema.safeParse({ ...app, modelId: "../etc" }))).toContain("modelId: pick a model");
    expect(messages(appFieldsSchema.safeParse({ ...app, systemPrompt: "short" }))).toContain("systemPrompt: must be at least 10 characters");
  });
});
