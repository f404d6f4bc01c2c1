import { z } from "@/lib/zod";
import { endpointSchema } from "@/lib/listings/schemas";

/** POST /api/models/test: try an endpoint before listing it (or the built-in offline model). */
export const testBodySchema = z.discriminatedUnion("provider", [
  endpointSchema.extend({ provider: z.literal("openai-compatible") }),
  z.object({ provider: z.literal("offline") }),
]);
