// An API query whose number another query of its wallet took first (a browser tab, which takes no lock)
// is signed and admitted again (lib/api/completions.ts admitRetryingTakenNumbers): until it gets a number,
// for a bounded time, with short growing random pauses; any other refusal ends it at once.
import { describe, expect, it } from "vitest";
import { admitRetryingTakenNumbers } from "@/lib/api/completions";
import { ChatError } from "@/lib/chat/errors";

const taken = () => new ChatError("conflict", "nonce_used", "This voucher's number was already used.");

describe("admitting an API query while its wallet's tabs take numbers", () => {
  it("tries again after each taken number until it is admitted", async () => {
    let calls = 0;
    const pauses: number[] = [];
    const admitted = await admitRetryingTakenNumbers(
      async () => {
        calls++;
        if (calls <= 7) throw taken();
        return "receipt";
      },
      { pause: async (ms) => void pauses.push(ms) },
    );
    expect(admitted).toBe("receipt");
    expect(calls).toBe(8);
    expect(pauses).toHaveLength(7);
    // Random, growing bounds: 2, 4, 8, … ms, never more than 64.
    pauses.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(2 ** Math.min(i + 1, 6));
    });
  });

  it("gives up with the last refusal once its time is over", async () => {
    let calls = 0;
    const started = Date.now();
    const refused = await admitRetryingTakenNumbers(
      async () => {
        calls++;
        throw taken();
      },
      { retryMs: 60 },
    ).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ChatError);
    expect((refused as ChatError).reason).toBe("nonce_used");
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("does not retry any other refusal", async () => {
    for (const error of [new ChatError("payment_required", "balance_too_low", "low"), new Error("the database is down")]) {
      let calls = 0;
      await expect(
        admitRetryingTakenNumbers(async () => {
          calls++;
          throw error;
        }),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });
});
