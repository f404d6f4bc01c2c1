// zod's global configuration, set before any schema exists; importable on its own, so a page whose
// libraries use zod (the AI SDK on the chat page) configures it without loading all of zod's classic API
// (and its locales) as lib/zod.ts's `z` does. jitless: zod would otherwise probe `new Function` to compile
// object parsers, which the pages' Content-Security-Policy (no eval) reports as a violation in the
// browser; the interpreted parser is fast enough for our bodies.
import { config } from "zod/v4/core";

config({ jitless: true });
