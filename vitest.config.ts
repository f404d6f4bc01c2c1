// Test projects:
//   unit         tests/unit/**          pure code, no services
//   integration  tests/integration/**   over real HTTP / RPC against one real stack (anvil + contracts +
//                tests/browser/**       SQLite + `next start`), started once by tests/helpers/global-setup.ts;
//                                       browser tests drive Debian's Chromium through playwright-core
import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "@": path.resolve(import.meta.dirname) };

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts", "tests/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["tests/helpers/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // expect.poll waits for a rendered value or a server state; its default 1 s gives up while a
          // loaded 2-core machine is still rendering. The bound only stops a test that hangs.
          expect: { poll: { timeout: 30_000, interval: 50 } },
          // One shared stack: run files one after another so they do not race on chain nonces.
          fileParallelism: false,
        },
      },
    ],
  },
});
