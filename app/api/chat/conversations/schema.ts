import { z } from "@/lib/zod";

export const conversationsQuerySchema = z.object({ appId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a listing id") });
