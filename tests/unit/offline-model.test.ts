// The offline extractive model (lib/ai/offline.ts): whole sentences that answer, each cited once,
// nothing from passages that don't answer, and a plain "no answer" when the sources hold none.
import { describe, expect, it } from "vitest";
import { answerExtractively, NO_ANSWER, OFFLINE_MODEL_NAME } from "@/lib/ai/offline";
import { OFFLINE_PROVIDER, OfflineExtractiveModel } from "@/lib/ai/offline-model";
import { buildContextMessage } from "@/lib/ai/prompt";
import { citedNumbers } from "@/lib/ai/prompt";

// As the manual's HTML extraction used to leave it: the source's line breaks inside a sentence.
const sharedBuffers = `20.4.1. Memory
shared_buffers (integer)
Sets the amount of memory the database server uses for shared memory buffers. The default is typically 128 megabytes (128MB), but might be less if your kernel settings will not support it.
If you have a dedicated database server with 1GB or more of RAM, a reasonable starting value for shared_buffers is 25%
of the memory in your system. There are some workloads where even larger settings for shared_buffers are effective.`;

const planner = `random_page_cost (floating point)
Sets the planner's estimate of the cost of a non-sequentially-fetched disk page. The default is 4.0.
geqo_selection_bias (floating point)
Controls the selection bias used by GEQO. The default is 0.2.`;

const quotes = (answer: string) => [...answer.matchAll(/“([^”]*)” \[(\d+)\]/g)].map((m) => ({ text: m[1], n: Number(m[2]) }));

describe("offline model: whole sentences that answer", () => {
  it("quotes the whole sentence, across the source's line breaks", () => {
    const answer = answerExtractively("What is a reasonable starting value for shared_buffers?", [{ index: 1, text: sharedBuffers }]);
    expect(answer).toContain("a reasonable starting value for shared_buffers is 25% of the memory in your system.");
    for (const quote of quotes(answer)) expect(quote.text).toMatch(/[.!?]$/);
  });

  it("splits sentences with Intl.Segmenter, not at every period (128MB, 1GB, 4.0 stay inside)", () => {
    const answer = answerExtractively("How much memory do shared buffers use by default?", [{ index: 1, text: sharedBuffers }]);
    expect(answer).toContain("The default is typically 128 megabytes (128MB), but might be less if your kernel settings will not support it.");
  });

  it("keeps a setting's value with its name: the sentence under the name, led by the name", () => {
    const answer = answerExtractively("What is the default geqo_selection_bias?", [{ index: 1, text: planner }]);
    expect(answer).toContain("The default is 0.2.");
    expect(answer).toContain("geqo_selection_bias (floating point)");
    // Never the other setting's default, and never the name alone.
    expect(answer).not.toContain("4.0");
    for (const quote of quotes(answer)) expect(quote.text).not.toBe("geqo_selection_bias (floating point)");
  });

  it("never quotes a heading alone", () => {
    const answer = answerExtractively("memory settings for shared buffers", [
      { index: 1, text: "20.4.1. Memory settings for shared buffers\nshared_buffers (integer)\nSets the amount of memory for buffers." },
    ]);
    expect(quotes(answer).length).toBeGreaterThan(0);
    for (const quote of quotes(answer)) expect(quote.text).toMatch(/Sets the amount of memory for buffers\.$/);
  });
});

describe("offline model: citations", () => {
  it("cites each quote with its source's number", () => {
    const answer = answerExtractively("What is all warfare based on?", [
      { index: 1, text: "Energy may be likened to the bending of a crossbow." },
      { index: 2, text: "All warfare is based on deception. Hold out baits to entice the enemy." },
    ]);
    expect(quotes(answer)).toEqual([{ text: "All warfare is based on deception.", n: 2 }]);
  });

  it("quotes a sentence once, though overlapping passages repeat it", () => {
    const heading = "20.4. Resource Consumption";
    const sentence = "The default is typically 128 megabytes (128MB).";
    const answer = answerExtractively("What is the default size of shared buffers in megabytes?", [
      { index: 1, text: `${heading}\nshared buffers\n${sentence}` },
      { index: 2, text: `${heading}\nshared buffers\n${sentence}` },
      { index: 3, text: `${heading}\n${sentence} Larger settings need more memory.` },
    ]);
    const quoted = quotes(answer).map((q) => q.text);
    expect(new Set(quoted).size).toBe(quoted.length);
    expect(answer.split(sentence).length - 1).toBe(1);
    expect(answer.split(heading).length - 1).toBeLessThanOrEqual(1);
  });
});

describe("offline model: relevance threshold and no answer", () => {
  it("adds nothing from a passage that does not answer (no filler from another dataset)", () => {
    const answer = answerExtractively("What is the default random_page_cost?", [
      { index: 1, text: planner },
      { index: 2, text: "Lighthouses have a default lamp that is replaced every year." },
    ]);
    expect(answer).toContain("The default is 4.0.");
    expect(citedNumbers(answer)).toEqual(new Set([1]));
  });

  it("says plainly when the sources hold no answer", () => {
    expect(answerExtractively("quantum chromodynamics", [{ index: 1, text: "Four score and seven years ago." }])).toBe(NO_ANSWER);
    expect(answerExtractively("How do pelicans catch fish?", [{ index: 1, text: planner }])).toBe(NO_ANSWER);
    expect(answerExtractively("anything at all", [])).toBe(NO_ANSWER);
    // A word shared by accident ("default") is not an answer to a question about something else.
    const defaults = `${planner}\nUnless it is changed, the default value stays in place for every session.`;
    expect(answerExtractively("What is the default colour of a pelican's pouch?", [{ index: 1, text: defaults }])).toBe(NO_ANSWER);
  });
});

describe("offline model as an AI SDK model", () => {
  it("is labelled as the extractive offline model and answers from the prompt's sources", async () => {
    const model = new OfflineExtractiveModel({ wordDelayMs: 0 });
    expect(model.provider).toBe(OFFLINE_PROVIDER);
    expect(model.provider).toMatch(/offline-extractive/);
    expect(model.modelId).toBe(OFFLINE_MODEL_NAME);
    const message = buildContextMessage("What is the default geqo_selection_bias?", [{ n: 1, dataset: "Manual", document: "runtime-config-query.html", text: planner }]);
    const result = await model.doGenerate({ prompt: [{ role: "user", content: [{ type: "text", text: message }] }] } as never);
    const text = (result.content[0] as { text: string }).text;
    expect(text).toMatch(/^From the sources: /);
    expect(text).toContain("The default is 0.2.” [1]");
  });
});
