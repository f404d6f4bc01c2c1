// The project's one import of zod, configured before any schema exists. jitless: zod would otherwise
// probe `new Function` to compile object parsers, which the pages' Content-Security-Policy (no eval)
// reports as a violation in the browser; the interpreted parser is fast enough for our bodies.
import { z } from "zod";

z.config({ jitless: true });

export { z };
