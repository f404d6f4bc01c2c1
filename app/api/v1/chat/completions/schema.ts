// The body of POST /api/v1/chat/completions: OpenAI's chat completions request, the part KIP answers.
// Fields this API does not use (temperature, top_p, user, …) are accepted and ignored, as OpenAI-compatible
// servers commonly do; tools and other content types are refused by name.
import { MAX_QUESTION_CHARS } from "@/lib/chat/types";
import { z } from "@/lib/zod";

/** Whole request bodies above this are refused with 413 (the history rides in every request). */
export const MAX_COMPLETION_BODY_BYTES = 256 * 1024;
export const MAX_MESSAGES = 200;

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(textPart).min(1).max(64)], { error: "must be a string or an array of text parts" });

export const completionMessageSchema = z.discriminatedUnion(
  "role",
  [
    z.object({ role: z.literal("system"), content, name: z.string().optional() }),
    z.object({ role: z.literal("developer"), content, name: z.string().optional() }),
    z.object({ role: z.literal("user"), content, name: z.string().optional() }),
    z.object({ role: z.literal("assistant"), content: content.nullable().optional(), name: z.string().optional() }),
  ],
  { error: "must be one of 'system', 'developer', 'user' or 'assistant'" },
);

export type CompletionMessage = z.infer<typeof completionMessageSchema>;

export function textOf(message: CompletionMessage): string {
  const c = message.content;
  if (c === null || c === undefined) return "";
  return typeof c === "string" ? c : c.map((part) => part.text).join("\n");
}

export const completionBodySchema = z
  .object({
    /** The app's listing id or slug (GET /api/v1/models). */
    model: z.string().min(1, "must name an app").max(200),
    messages: z.array(completionMessageSchema).min(1, "must hold at least one message").max(MAX_MESSAGES),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    n: z.literal(1, { error: "only 1 is supported" }).nullable().optional(),
    tools: z.array(z.unknown()).max(0, "are not supported").nullable().optional(),
  })
  .superRefine((body, ctx) => {
    const last = body.messages.length - 1;
    const message = body.messages[last];
    if (message.role !== "user") {
      ctx.addIssue({ code: "custom", path: ["messages", last, "role"], message: "the last message must be the user's question" });
      return;
    }
    const text = textOf(message).trim();
    if (!text) ctx.addIssue({ code: "custom", path: ["messages", last, "content"], message: "must not be empty" });
    else if (text.length > MAX_QUESTION_CHARS) ctx.addIssue({ code: "custom", path: ["messages", last, "content"], message: `must be at most ${MAX_QUESTION_CHARS} characters` });
  });

export type CompletionBody = z.infer<typeof completionBodySchema>;
