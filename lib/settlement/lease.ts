// A lease in the database that one process holds at a time: the settlement worker's, so that however
// many workers run (one per `npm start`, or several for failover), exactly one settles. The holder
// renews it well before it expires; a worker that dies stops renewing, and a standby takes the lease
// once it has expired (within SETTLE_LEASE_MS plus one poll). Expiry is judged by the database's clock,
// one clock for every machine.
import os from "node:os";
import crypto from "node:crypto";
import type { Db } from "@/lib/db-client";

export class Lease {
  readonly holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString("hex")}`;

  constructor(
    private readonly db: Db,
    readonly name: string,
    readonly ttlMs: number,
  ) {}

  /** Takes the lease if it is free or expired, or renews it if held here. True when held here now. */
  async acquire(): Promise<boolean> {
    const rows = await this.db.$queryRaw<{ holder: string }[]>`
      INSERT INTO "Lease" ("name", "holder", "expiresAt")
      VALUES (${this.name}, ${this.holder}, (now() AT TIME ZONE 'UTC') + make_interval(secs => ${this.ttlMs / 1000}::float8))
      ON CONFLICT ("name") DO UPDATE SET "holder" = excluded."holder", "expiresAt" = excluded."expiresAt"
        WHERE "Lease"."holder" = excluded."holder" OR "Lease"."expiresAt" < (now() AT TIME ZONE 'UTC')
      RETURNING "holder"`;
    return rows.length === 1;
  }

  /** Who holds the lease now (null when nobody does or it has expired). */
  async currentHolder(): Promise<string | null> {
    const rows = await this.db.$queryRaw<{ holder: string }[]>`
      SELECT "holder" FROM "Lease" WHERE "name" = ${this.name} AND "expiresAt" >= (now() AT TIME ZONE 'UTC')`;
    return rows[0]?.holder ?? null;
  }

  /** Gives the lease up at once (a clean stop), so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    await this.db.$executeRaw`DELETE FROM "Lease" WHERE "name" = ${this.name} AND "holder" = ${this.holder}`;
  }
}

/** Waits `ms`, or less if `signal` aborts first. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });

/**
 * Runs `work` only while holding `lease`: waits for it (polling), renews it every third of its lifetime
 * while `work` runs, and aborts `work`'s signal if a renewal fails (then waits for the lease again).
 * Returns when `signal` aborts, after releasing the lease.
 */
export async function whileHolding(
  lease: Lease,
  signal: AbortSignal,
  work: (held: AbortSignal) => Promise<void>,
  log: (line: string) => void = console.log,
): Promise<void> {
  const period = Math.max(250, Math.floor(lease.ttlMs / 3));
  let waitingLogged = false;
  while (!signal.aborted) {
    let acquired = false;
    try {
      acquired = await lease.acquire();
    } catch (error) {
      log(`lease ${lease.name}: database unavailable (${String(error).split("\n")[0]})`);
    }
    if (!acquired) {
      if (!waitingLogged) {
        log(`lease ${lease.name} is held by ${(await lease.currentHolder().catch(() => null)) ?? "another worker"}; standing by`);
        waitingLogged = true;
      }
      await sleep(period, signal);
      continue;
    }
    waitingLogged = false;
    log(`lease ${lease.name} taken by ${lease.holder}`);
    const held = new AbortController();
    const stopHeld = () => held.abort();
    signal.addEventListener("abort", stopHeld, { once: true });
    const renewal = setInterval(() => {
      lease
        .acquire()
        .then((still) => {
          if (!still) throw new Error("taken by another worker");
        })
        .catch((error: unknown) => {
          if (held.signal.aborted) return;
          log(`lease ${lease.name} lost (${String(error).split("\n")[0]}); stopping after this round`);
          held.abort();
        });
    }, period);
    try {
      await work(held.signal);
    } finally {
      clearInterval(renewal);
      signal.removeEventListener("abort", stopHeld);
    }
  }
  await lease.release().catch(() => undefined);
}
