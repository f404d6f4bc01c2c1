// The project's one import of zod's schema API, configured (lib/zod-config.ts) before any schema exists.
import "./zod-config";
import { z } from "zod";

export { z };
