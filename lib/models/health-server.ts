import "server-only";
// The app server's side of model health (lib/models/health.ts): its database, the outbound policy's
// fetch, one bound on concurrent probes per process, and the periodic probes started once per process
// (instrumentation.ts).
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { modelFetch } from "@/lib/net/model-fetch";
import { probeNow, ProbeSlots, readHealth, runHealthProbes, type HealthDeps } from "./health";
import type { ModelHealthView } from "./health-view";

const state = globalThis as unknown as { kipProbeSlots?: ProbeSlots; kipHealthProbes?: AbortController };

export function healthDeps(): HealthDeps {
  const env = serverEnv();
  state.kipProbeSlots ??= new ProbeSlots(env.MODEL_PROBE_CONCURRENCY);
  return { db: getDb(), fetch: modelFetch(), encryptionKey: env.ENCRYPTION_KEY, slots: state.kipProbeSlots };
}

/** The stored health of a model (null: no such model). */
export function modelHealth(listingId: string): Promise<ModelHealthView | null> {
  return readHealth(getDb(), listingId, serverEnv().MODEL_PROBE_INTERVAL_MS);
}

/** Probes a model now (at most once per ON_DEMAND_GAP_MS across every server) and returns its health. */
export function probeModelNow(listingId: string): Promise<ModelHealthView | null> {
  return probeNow(healthDeps(), listingId, { intervalMs: serverEnv().MODEL_PROBE_INTERVAL_MS });
}

/** Starts this process's periodic probes (once; not when MODEL_PROBE_INTERVAL_MS is 0). */
export function startModelHealthProbes(): void {
  const env = serverEnv();
  if (env.MODEL_PROBE_INTERVAL_MS === 0 || state.kipHealthProbes) return;
  const controller = new AbortController();
  state.kipHealthProbes = controller;
  void runHealthProbes(healthDeps(), { intervalMs: env.MODEL_PROBE_INTERVAL_MS, concurrency: env.MODEL_PROBE_CONCURRENCY, signal: controller.signal });
}
