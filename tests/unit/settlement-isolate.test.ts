// Bisection of a batch the contract would revert: the bad items are found and rejected, every other item
// stays in the batch, and a clean batch costs one simulation.
import { describe, expect, it } from "vitest";
import { isolateFailures } from "@/lib/settlement/worker";

function harness(bad: ReadonlySet<number>) {
  let simulations = 0;
  const rejected: number[] = [];
  const simulate = async (items: readonly number[]) => {
    simulations++;
    const poison = items.find((item) => bad.has(item));
    if (poison !== undefined) throw new Error(`MalformedBatch at item ${poison}`);
  };
  const reject = async (item: number, error: unknown) => {
    expect(String(error)).toContain(`item ${item}`);
    rejected.push(item);
  };
  return { simulate, reject, rejected, simulations: () => simulations };
}

describe("isolating what the contract refuses", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);

  it("costs one simulation when nothing is wrong", async () => {
    const h = harness(new Set());
    expect(await isolateFailures(items, h.simulate, h.reject)).toEqual(items);
    expect(h.simulations()).toBe(1);
  });

  it("finds one poison item among 50 in a few simulations and keeps the other 49, in order", async () => {
    const h = harness(new Set([37]));
    expect(await isolateFailures(items, h.simulate, h.reject)).toEqual(items.filter((i) => i !== 37));
    expect(h.rejected).toEqual([37]);
    expect(h.simulations()).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(50)) + 2);
  });

  it("finds several, including neighbours and the first and last", async () => {
    const bad = new Set([0, 12, 13, 49]);
    const h = harness(bad);
    expect(await isolateFailures(items, h.simulate, h.reject)).toEqual(items.filter((i) => !bad.has(i)));
    expect(h.rejected.sort((a, b) => a - b)).toEqual([...bad]);
  });

  it("when only a combination fails, sends a smaller set that passes and rejects nothing", async () => {
    let simulations = 0;
    const rejected: number[] = [];
    // Any set holding both 3 and 40 fails; each alone is fine.
    const simulate = async (set: readonly number[]) => {
      simulations++;
      if (set.includes(3) && set.includes(40)) throw new Error("together they fail");
    };
    const kept = await isolateFailures(items, simulate, async (item) => void rejected.push(item));
    expect(rejected).toEqual([]);
    expect(kept.includes(3) && kept.includes(40)).toBe(false);
    expect(kept.length).toBeGreaterThan(0);
    await expect(simulate(kept)).resolves.toBeUndefined();
    expect(simulations).toBeLessThan(100);
  });

  it("rejects everything when everything is bad, and handles an empty batch", async () => {
    const h = harness(new Set(items));
    expect(await isolateFailures(items, h.simulate, h.reject)).toEqual([]);
    expect(h.rejected).toHaveLength(50);
    expect(await isolateFailures([], h.simulate, h.reject)).toEqual([]);
  });
});
