// `npm run bench`: every benchmark, one after another, each writing bench/results/<name>.json and printing
// its table beside the targets. All run even if one misses; the exit code is non-zero if any did.
import { spawnSync } from "node:child_process";
import path from "node:path";

const benches = ["gas.ts", "retrieval.ts", "chat.ts", "accounts.ts", "web.ts"];
const failed: string[] = [];
for (const bench of benches) {
  console.log(`\n=== bench/${bench}`);
  const result = spawnSync(process.execPath, [path.join("node_modules", "tsx", "dist", "cli.mjs"), path.join("bench", bench)], {
    stdio: "inherit",
  });
  if (result.status !== 0) failed.push(bench);
}
if (failed.length) {
  console.error(`\nMissed a target or failed: ${failed.join(", ")}`);
  process.exit(1);
}
console.log("\nAll benchmark targets met.");
