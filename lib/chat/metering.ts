// What one query costs, slot by slot. Shared by the server (which fixes the charge) and the pages (which
// show the maximum before sending and the charge after), so both compute the same numbers. No server
// imports.
//
//   - an app is priced per query;
//   - a model per query and/or per 1,000 input and per 1,000 output tokens;
//   - a dataset per query in which its passages were placed in the model's context.
//
// The payer signs each slot's maximum before the answer: for a model, its per-query price plus the token
// prices at the budgets below (the server never sends a longer prompt or asks for a longer answer).
// After the answer the charge is the actual usage, never more than the maximum:
//   - complete: the app, the datasets in context and the model for the tokens the provider reports (or,
//     when it reports none, the tokens this server counted), never more than one per byte of the texts
//     sent and streamed back (boundedUsage);
//   - stopped by the user after the first token: the same, with the model's output counted as the tokens
//     streamed until the stop and its input estimated from the prompt's length;
//   - failed or stopped before the first token: nothing.

/** Token budgets of one query: the prompt is trimmed to fit the first, the answer is capped at the second. */
export const TOKEN_BUDGET = { input: 16_000, output: 1_024 } as const;

/** Characters per token when a count must be estimated (no usage reported): a common rule of thumb. */
export const CHARS_PER_TOKEN = 4;

export interface ModelPricing {
  /** Payment-token base units per query. */
  perQuery: bigint;
  /** Base units per 1,000 input tokens. */
  perKInput: bigint;
  /** Base units per 1,000 output tokens. */
  perKOutput: bigint;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** The token part of a model's charge: each direction rounded up to a whole base unit. */
function tokenCharge(pricing: ModelPricing, usage: TokenUsage): bigint {
  return ceilDiv(BigInt(usage.inputTokens) * pricing.perKInput, 1000n) + ceilDiv(BigInt(usage.outputTokens) * pricing.perKOutput, 1000n);
}

/** Whether the model charges for tokens at all. */
export function isMetered(pricing: ModelPricing): boolean {
  return pricing.perKInput > 0n || pricing.perKOutput > 0n;
}

/** The most one query can cost for the model: its per-query price plus both token budgets. */
export function modelMaxCharge(pricing: ModelPricing): bigint {
  return pricing.perQuery + tokenCharge(pricing, { inputTokens: TOKEN_BUDGET.input, outputTokens: TOKEN_BUDGET.output });
}

/** Usage counted against the budgets: anything past a budget is not charged. */
export function withinBudget(usage: TokenUsage): TokenUsage {
  return {
    inputTokens: Math.max(0, Math.min(TOKEN_BUDGET.input, Math.ceil(usage.inputTokens))),
    outputTokens: Math.max(0, Math.min(TOKEN_BUDGET.output, Math.ceil(usage.outputTokens))),
  };
}

/** The model's charge for a query that used `usage`. */
export function modelCharge(pricing: ModelPricing, usage: TokenUsage): bigint {
  return pricing.perQuery + tokenCharge(pricing, withinBudget(usage));
}

/** Tokens a chat template adds around each message (role markers, separators), at most. */
export const MESSAGE_FRAMING_TOKENS = 8;

/**
 * Usage as charged: the provider's report (or this server's count where it reports none), held to what
 * the texts can have held. The model's endpoint is run by the model's creator, who is paid per token, so
 * a report counts only up to one token per byte of what was sent (plus each message's framing) and of the
 * answer streamed back (byte-level tokenizers never make a token of less than a byte), plus the reasoning
 * it streamed at CHARS_PER_TOKEN: the user never sees that text, so the endpoint could pad it at will.
 * Reasoning a provider keeps hidden is not charged.
 */
export function boundedUsage(
  reported: { inputTokens?: number; outputTokens?: number } | undefined,
  counted: TokenUsage,
  bounds: { inputBytes: number; messages: number; answerBytes: number; reasoningChars: number },
): TokenUsage {
  return {
    inputTokens: Math.min(reported?.inputTokens ?? counted.inputTokens, bounds.inputBytes + bounds.messages * MESSAGE_FRAMING_TOKENS),
    outputTokens: Math.min(reported?.outputTokens ?? counted.outputTokens, bounds.answerBytes + estimateTokens(bounds.reasoningChars) + 1),
  };
}

/** Tokens of a text of `chars` characters when nobody counted them: CHARS_PER_TOKEN each, rounded up. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export interface MeteredSlot {
  role: "app" | "model" | "dataset";
  listingId: string;
  /** The signed maximum for this query (base units, decimal). */
  price: string;
  /** A model's prices (base units, decimal); absent for apps and datasets. */
  pricing?: { perQuery: string; perKInput: string; perKOutput: string };
}

export type AnswerOutcome =
  | { kind: "complete"; usage: TokenUsage; contextDatasets: ReadonlySet<string> }
  /** Stopped by the user, or (cutAt: the limit in ms) cut at the answer time limit, after its first token. */
  | { kind: "stopped"; usage: TokenUsage; contextDatasets: ReadonlySet<string>; cutAt?: number };

export interface QueryCharge {
  /** One amount per slot, in the charge set's order; each at most that slot's signed maximum. */
  amounts: bigint[];
  total: bigint;
  /** Why the message costs what it costs, in words the chat shows under it. */
  note: string;
}

/** A time limit as words: "5-minute", "90-second". */
export function limitWords(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60}-minute` : `${seconds}-second`;
}

export function pricingOf(slot: MeteredSlot): ModelPricing {
  if (!slot.pricing) return { perQuery: BigInt(slot.price), perKInput: 0n, perKOutput: 0n };
  return { perQuery: BigInt(slot.pricing.perQuery), perKInput: BigInt(slot.pricing.perKInput), perKOutput: BigInt(slot.pricing.perKOutput) };
}

/** Each slot's charge for an answer (see the rules at the top of this file). */
export function queryCharge(slots: readonly MeteredSlot[], outcome: AnswerOutcome): QueryCharge {
  const usage = withinBudget(outcome.usage);
  const amounts = slots.map((slot) => {
    const max = BigInt(slot.price);
    let amount: bigint;
    if (slot.role === "model") amount = modelCharge(pricingOf(slot), usage);
    else if (slot.role === "dataset") amount = outcome.contextDatasets.has(slot.listingId) ? max : 0n;
    else amount = max;
    return amount < max ? amount : max;
  });
  const total = amounts.reduce((a, b) => a + b, 0n);
  const datasets = slots.filter((s) => s.role === "dataset");
  const used = datasets.filter((s) => outcome.contextDatasets.has(s.listingId)).length;
  const tokens = `${usage.inputTokens.toLocaleString("en-US")} input and ${usage.outputTokens.toLocaleString("en-US")} output tokens`;
  const context = `${used} of ${datasets.length} dataset${datasets.length === 1 ? "" : "s"} in context`;
  const note =
    outcome.kind !== "stopped"
      ? `The app, ${context}, and the model for ${tokens}.`
      : outcome.cutAt !== undefined
        ? `Cut at the ${limitWords(outcome.cutAt)} answer limit: the app and ${context} in full, the model for the ${tokens} streamed before the cut.`
        : `Stopped: the app and ${context} in full, the model for the ${tokens} streamed before the stop.`;
  return { amounts, total, note };
}
