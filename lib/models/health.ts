// Model endpoint health: each listed model's endpoint is probed with one free request (GET
// {baseUrl}/models, the OpenAI-compatible model list: no tokens, so it costs its creator nothing), through
// the outbound policy's fetch, and the result is stored in ModelHealth for every server to read.
//
// Several app servers share one database, so the probe rate must not grow with their number: a server
// probes a model only after claiming its row with one conditional write (INSERT … ON CONFLICT DO UPDATE …
// WHERE the last check is older than the gap and nobody is probing it). Postgres evaluates that WHERE on
// the row's latest version under its lock, so of any number of servers claiming at once exactly one wins,
// and each model is probed at most once per gap. A claim expires (probingUntil), so a server that dies
// mid-probe does not leave the model unprobed. Each server runs at most `concurrency` probes at once,
// each bounded by a timeout.
//
// Nothing here imports "server-only": tests drive it with their own database and fetch.
import { httpStatusSummary, modelFailureSummary } from "@/lib/ai/failures";
import { decryptString, modelApiKeyAad } from "@/lib/crypto";
import type { Db } from "@/lib/db-client";
import type { ModelHealth } from "@/lib/generated/prisma/client";
import { readCapped } from "@/lib/net/read-capped";
import { sleep } from "@/lib/settlement/lease";
import { BUILT_IN_HEALTH, type HealthStatus, type ModelHealthView } from "./health-view";

/** A probe that has not been answered by then counts as down. */
export const PROBE_TIMEOUT_MS = 5_000;
/** A claim outlives a probe's timeout by this much, so a slow write of the result lets nobody in twice. */
const CLAIM_MARGIN_MS = 10_000;
/** Probes asked for by a person (a creator about to list) run at most this often per model. */
export const ON_DEMAND_GAP_MS = 10_000;
/** A model list is a few kilobytes; more is not read. */
const MAX_LIST_BYTES = 256 * 1024;

export interface ProbeResult {
  status: HealthStatus;
  latencyMs: number | null;
  reason: string | null;
}

export interface HealthDeps {
  db: Db;
  /** The outbound policy's fetch (lib/net/model-fetch.ts): every probe goes through it. */
  fetch: typeof fetch;
  /** Decrypts stored API keys. */
  encryptionKey: string;
  /** Bounds the probes this process runs at once (default: no bound beyond the caller's). */
  slots?: ProbeSlots;
  timeoutMs?: number;
}

/** At most `size` probes at once in this process; the rest wait their turn. */
export class ProbeSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * One probe of an OpenAI-compatible endpoint. Down: it cannot be reached (the reason says why, a refusal
 * by the outbound policy included), it refuses the key, fails (5xx) or answers something that is not a
 * model list. Unknown: it answers but offers no model list (404, 405, 501) or is rate-limiting (429), so
 * only a paid request could tell more.
 */
export async function probeEndpoint(
  fetchFn: typeof fetch,
  { baseUrl, apiKey }: { baseUrl: string; apiKey?: string | null },
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetchFn(`${baseUrl}/models`, {
      method: "GET",
      headers: { accept: "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { status: "down", latencyMs: null, reason: timedOut ? `the endpoint did not answer within ${timeoutMs / 1000} s` : modelFailureSummary(error) };
  }
  const latencyMs = Math.round(performance.now() - started);
  let text: string;
  try {
    text = await readCapped(response, MAX_LIST_BYTES);
  } catch (error) {
    return { status: "down", latencyMs, reason: `the endpoint began answering, then ${modelFailureSummary(error).replace(/^the endpoint /, "")}` };
  }
  if (response.ok) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: "down", latencyMs, reason: `the endpoint answered ${response.status}, but not with JSON: is the base URL that of an OpenAI-compatible API?` };
    }
    const list = Array.isArray(body) ? body : (body as { data?: unknown } | null)?.data;
    if (!Array.isArray(list)) return { status: "down", latencyMs, reason: "the endpoint answered, but not with a model list: is the base URL that of an OpenAI-compatible API?" };
    return { status: "up", latencyMs, reason: null };
  }
  if ([404, 405, 501].includes(response.status)) {
    return { status: "unknown", latencyMs, reason: `the endpoint answers, but does not list its models (${response.status}), so its health cannot be checked without a paid request` };
  }
  if (response.status === 429) return { status: "unknown", latencyMs, reason: httpStatusSummary(429) };
  return { status: "down", latencyMs, reason: httpStatusSummary(response.status) };
}

// Every time below is the database's clock (one clock for every server), in UTC as Prisma stores it.

/** Claims one model's probe if its last check is older than `gapMs` and nobody is probing it. */
export async function claimProbe(db: Db, listingId: string, gapMs: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const rows = await db.$queryRaw<{ listingId: string }[]>`
    INSERT INTO "ModelHealth" ("listingId", "probingUntil")
    VALUES (${listingId}, (now() AT TIME ZONE 'UTC') + make_interval(secs => ${(timeoutMs + CLAIM_MARGIN_MS) / 1000}::float8))
    ON CONFLICT ("listingId") DO UPDATE SET "probingUntil" = excluded."probingUntil"
      WHERE ("ModelHealth"."checkedAt" IS NULL OR "ModelHealth"."checkedAt" < (now() AT TIME ZONE 'UTC') - make_interval(secs => ${gapMs / 1000}::float8))
        AND ("ModelHealth"."probingUntil" IS NULL OR "ModelHealth"."probingUntil" < (now() AT TIME ZONE 'UTC'))
    RETURNING "listingId"`;
  return rows.length === 1;
}

/**
 * Claims up to `limit` listed models whose last check is older than `intervalMs` (never checked first).
 * The candidates are read, then claimed under the same condition as `claimProbe`: a server that read the
 * same candidates a moment earlier and claimed them already leaves nothing to claim here.
 */
export async function claimDueProbes(db: Db, { intervalMs, limit, timeoutMs = PROBE_TIMEOUT_MS }: { intervalMs: number; limit: number; timeoutMs?: number }): Promise<string[]> {
  const rows = await db.$queryRaw<{ listingId: string }[]>`
    WITH due AS (
      SELECT m."listingId" FROM "ModelEndpoint" m
      JOIN "Listing" l ON l."id" = m."listingId"
      LEFT JOIN "ModelHealth" h ON h."listingId" = m."listingId"
      WHERE m."provider" = 'openai-compatible' AND m."baseUrl" IS NOT NULL AND l."status" = 'listed'
        AND (h."checkedAt" IS NULL OR h."checkedAt" < (now() AT TIME ZONE 'UTC') - make_interval(secs => ${intervalMs / 1000}::float8))
        AND (h."probingUntil" IS NULL OR h."probingUntil" < (now() AT TIME ZONE 'UTC'))
      ORDER BY h."checkedAt" ASC NULLS FIRST
      LIMIT ${limit}
    )
    INSERT INTO "ModelHealth" ("listingId", "probingUntil")
    SELECT "listingId", (now() AT TIME ZONE 'UTC') + make_interval(secs => ${(timeoutMs + CLAIM_MARGIN_MS) / 1000}::float8) FROM due
    ON CONFLICT ("listingId") DO UPDATE SET "probingUntil" = excluded."probingUntil"
      WHERE ("ModelHealth"."checkedAt" IS NULL OR "ModelHealth"."checkedAt" < (now() AT TIME ZONE 'UTC') - make_interval(secs => ${intervalMs / 1000}::float8))
        AND ("ModelHealth"."probingUntil" IS NULL OR "ModelHealth"."probingUntil" < (now() AT TIME ZONE 'UTC'))
    RETURNING "listingId"`;
  return rows.map((row) => row.listingId);
}

/** A model's stored health changes once per probe at most (a minute by default); chat re-reads it at most this often. */
const HEALTH_CACHE_MS = 5_000;
const healthCache = new Map<string, { at: number; row: Promise<ModelHealth | null> }>();

/** The model's stored probe result, cached for a few seconds (a probe this process stores replaces it at once). */
export function storedHealth(db: Db, listingId: string): Promise<ModelHealth | null> {
  let cached = healthCache.get(listingId);
  if (!cached || Date.now() - cached.at >= HEALTH_CACHE_MS) {
    cached = { at: Date.now(), row: db.modelHealth.findUnique({ where: { listingId } }) };
    healthCache.set(listingId, cached);
    cached.row.catch(() => healthCache.delete(listingId));
  }
  return cached.row;
}

async function recordProbe(db: Db, listingId: string, result: ProbeResult): Promise<void> {
  healthCache.delete(listingId);
  await db.$executeRaw`
    UPDATE "ModelHealth" SET "status" = ${result.status}, "latencyMs" = ${result.latencyMs}, "reason" = ${result.reason},
      "checkedAt" = (now() AT TIME ZONE 'UTC'), "probingUntil" = NULL
    WHERE "listingId" = ${listingId}`;
  healthCache.delete(listingId);
}

/** Probes a model this process has claimed and stores the result (a probe's failure is a result too). */
export async function probeClaimed(deps: HealthDeps, listingId: string): Promise<ProbeResult> {
  const run = async (): Promise<ProbeResult> => {
    const model = await deps.db.modelEndpoint.findUnique({ where: { listingId }, select: { provider: true, baseUrl: true, apiKeyEncrypted: true } });
    if (!model || model.provider !== "openai-compatible" || !model.baseUrl) return { status: "unknown", latencyMs: null, reason: "this model has no endpoint to probe" };
    let apiKey: string | null = null;
    if (model.apiKeyEncrypted) {
      try {
        apiKey = decryptString(model.apiKeyEncrypted, deps.encryptionKey, modelApiKeyAad(listingId));
      } catch {
        return { status: "unknown", latencyMs: null, reason: "its stored API key cannot be decrypted with this server's ENCRYPTION_KEY" };
      }
    }
    return probeEndpoint(deps.fetch, { baseUrl: model.baseUrl, apiKey }, deps.timeoutMs);
  };
  const result = await (deps.slots ? deps.slots.run(run) : run());
  await recordProbe(deps.db, listingId, result);
  return result;
}

/**
 * The view of a model's health, from its provider and its stored row. A check older than `staleAfterMs`
 * is marked stale (the probes have stopped, or this model is not probed): pages show it as such and the
 * chat does not refuse on it.
 */
export function healthView(provider: string, row: Pick<ModelHealth, "status" | "latencyMs" | "reason" | "checkedAt"> | null, staleAfterMs: number, now = Date.now()): ModelHealthView {
  if (provider === "offline") return BUILT_IN_HEALTH;
  if (!row?.checkedAt) return { status: "unknown", builtIn: false, latencyMs: null, checkedAt: null, reason: null, stale: true };
  const status: HealthStatus = row.status === "up" || row.status === "down" ? row.status : "unknown";
  return { status, builtIn: false, latencyMs: row.latencyMs, checkedAt: row.checkedAt.toISOString(), reason: row.reason, stale: now - row.checkedAt.getTime() > staleAfterMs };
}

/** How long a check is trusted: three probe intervals (a missed probe or two), five minutes when probes are off. */
export function staleAfterMs(intervalMs: number): number {
  return intervalMs > 0 ? Math.max(3 * intervalMs, 30_000) : 5 * 60_000;
}

/** The stored view of one model's health (null: no such model). */
export async function readHealth(db: Db, listingId: string, intervalMs: number): Promise<ModelHealthView | null> {
  const model = await db.modelEndpoint.findUnique({ where: { listingId }, select: { provider: true, health: true } });
  return model ? healthView(model.provider, model.health, staleAfterMs(intervalMs)) : null;
}

/**
 * Probes a model now unless it was checked within `gapMs` (then the stored result stands). When another
 * server is probing it at this moment, waits for that probe's result instead of sending a second one.
 */
export async function probeNow(deps: HealthDeps, listingId: string, { gapMs = ON_DEMAND_GAP_MS, intervalMs }: { gapMs?: number; intervalMs: number }): Promise<ModelHealthView | null> {
  const model = await deps.db.modelEndpoint.findUnique({ where: { listingId }, select: { provider: true } });
  if (!model) return null;
  if (model.provider === "offline") return BUILT_IN_HEALTH;
  const timeoutMs = deps.timeoutMs ?? PROBE_TIMEOUT_MS;
  if (await claimProbe(deps.db, listingId, gapMs, timeoutMs)) {
    await probeClaimed(deps, listingId);
  } else {
    const deadline = Date.now() + timeoutMs + CLAIM_MARGIN_MS;
    const never = new AbortController().signal;
    while (Date.now() < deadline) {
      const row = await deps.db.modelHealth.findUnique({ where: { listingId }, select: { probingUntil: true } });
      if (!row?.probingUntil) break;
      await sleep(200, never);
    }
  }
  return readHealth(deps.db, listingId, intervalMs);
}

/** One round of periodic probes: claims what is due (up to the concurrency) and probes it. Returns how many were probed. */
export async function sweepOnce(deps: HealthDeps, { intervalMs, concurrency }: { intervalMs: number; concurrency: number }): Promise<number> {
  const claimed = await claimDueProbes(deps.db, { intervalMs, limit: concurrency, timeoutMs: deps.timeoutMs });
  await Promise.all(claimed.map((id) => probeClaimed(deps, id).catch(() => undefined)));
  return claimed.length;
}

/**
 * Probes every listed model once per `intervalMs` until `signal` aborts. Wakes a few times per interval
 * (a claim is one cheap statement) and starts at a random moment, so servers started together spread out.
 */
export async function runHealthProbes(
  deps: HealthDeps,
  { intervalMs, concurrency, signal, log = console.log }: { intervalMs: number; concurrency: number; signal: AbortSignal; log?: (line: string) => void },
): Promise<void> {
  const tick = Math.min(Math.max(Math.floor(intervalMs / 4), 250), 15_000);
  let failing = false;
  await sleep(Math.floor(Math.random() * tick), signal);
  while (!signal.aborted) {
    try {
      const probed = await sweepOnce(deps, { intervalMs, concurrency });
      failing = false;
      // A full round: more may be due right away.
      if (probed === concurrency) continue;
    } catch (error) {
      if (!failing) log(`model health probes: ${String(error).split("\n")[0]}`);
      failing = true;
    }
    await sleep(tick, signal);
  }
}
