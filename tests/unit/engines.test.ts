// The Node.js version the README promises, the one package.json declares, the ones the installed packages
// declare, and the one CI runs must agree: an install must not warn EBADENGINE on the promised version,
// and CI must test on it.
import fs from "node:fs";
import path from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** "Node.js 22.13 or newer in the 22 line" → the lowest promised version and the major line CI runs. */
function promised(): { minimum: string; major: number } {
  const match = /Node\.js (\d+)\.(\d+)\+/.exec(read("README.md"));
  if (!match) throw new Error('README.md names no "Node.js X.Y+" requirement');
  return { minimum: `${match[1]}.${match[2]}.0`, major: Number(match[1]) };
}

/** Every installed package (from the lockfile, present on this platform) that declares engines.node. */
function declaredEngines(): { name: string; range: string }[] {
  const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
  return Object.entries(lock.packages).flatMap(([key, pkg]) => {
    const range = !pkg.engines || Array.isArray(pkg.engines) ? undefined : pkg.engines.node;
    if (!range || !key || !fs.existsSync(path.join(ROOT, key, "package.json"))) return [];
    return [{ name: key.replace(/^.*node_modules\//, ""), range }];
  });
}

describe("Node.js engines", () => {
  it("package.json declares the version the README promises", () => {
    const { minimum } = promised();
    const range = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
    expect(semver.minVersion(range)?.version).toBe(minimum);
  });

  it("every installed package accepts the promised version (no EBADENGINE on install)", () => {
    const { minimum } = promised();
    const refused = declaredEngines().filter((p) => !semver.satisfies(minimum, p.range));
    expect(refused).toEqual([]);
  });

  it("CI installs and runs the README's major version", () => {
    const { major } = promised();
    const ci = read(".ci/run");
    const pinned = /^NODE_VERSION=(\d+)\.\d+\.\d+$/m.exec(ci);
    expect(pinned?.[1]).toBe(String(major));
    if (process.env.CI) expect(semver.major(process.versions.node)).toBe(major);
  });
});

describe("app server Node options", () => {
  it("turn on async context frames in Node 22 and 23 only (later versions have them by default), and widen the young generation", async () => {
    const { appNodeOptions } = await import("../../scripts/stack");
    expect(appNodeOptions("22.13.0")).toEqual(["--experimental-async-context-frame", "--max-semi-space-size=32"]);
    expect(appNodeOptions("23.11.1")).toEqual(["--experimental-async-context-frame", "--max-semi-space-size=32"]);
    expect(appNodeOptions("24.1.0")).toEqual(["--max-semi-space-size=32"]);
    expect(appNodeOptions("25.0.0")).toEqual(["--max-semi-space-size=32"]);
  });

  it("are taken by this Node.js: AsyncLocalStorage keeps its store across awaits, and the semi-spaces are 32 MB", async () => {
    const { appNodeOptions } = await import("../../scripts/stack");
    const { execFileSync } = await import("node:child_process");
    const script =
      'const { AsyncLocalStorage } = require("node:async_hooks"); const als = new AsyncLocalStorage();' +
      'als.run(42, async () => { await new Promise((r) => setTimeout(r, 1)); await null; process.stdout.write(String(als.getStore())); ' +
      'process.stdout.write(" " + require("node:v8").getHeapStatistics().heap_size_limit); });';
    const run = (options: string) => execFileSync(process.execPath, ["-e", script], { env: { ...process.env, NODE_OPTIONS: options }, encoding: "utf8" }).split(" ");
    const [store, limit] = run(appNodeOptions().join(" "));
    expect(store).toBe("42");
    // The young generation is three semi-spaces: 32 MB ones add 48 MB to the heap's limit.
    expect(Number(limit) - Number(run("")[1])).toBe(3 * 16 * 1024 * 1024);
  });
});
