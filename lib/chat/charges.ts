// An app's charge set: the app, its model and each of its datasets, each at its slot's price as the
// chain says now (a model's maximum adds its token prices at the token budgets, lib/chat/metering.ts).
// A receipt must sign exactly this set (slots and maxAmounts, in this order).
import type { Address, PublicClient } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import type { Db } from "@/lib/db-client";
import type { ModelEndpointRecord } from "@/lib/ai/providers";
import { healthView, staleAfterMs, storedHealth } from "@/lib/models/health";
import { ago, isDown, type ModelHealthView } from "@/lib/models/health-view";
import { LIMITS } from "@/lib/protocol";
import { ChatError } from "./errors";
import { modelMaxCharge, type ModelPricing } from "./metering";
import type { ChargeSet, ChargeSlot } from "./types";

export interface ChainContext {
  chainId: number;
  assets: Address;
  settlement: Address;
  /** The server's settlement account: the operator every spending session here must name. */
  operator: Address;
  client: PublicClient;
}

export interface ChatApp {
  id: string;
  name: string;
  description: string;
  systemPrompt: string;
  /** Passages retrieved per question across the app's datasets (set by the app's creator). */
  topK: number;
  model: ModelEndpointRecord & { name: string };
  datasets: { id: string; name: string }[];
  chargeSet: ChargeSet;
}

/** On-chain slot prices are re-read at most this often. */
export const SLOT_CACHE_MS = 5_000;
const slotCache = new Map<string, { at: number; info: Promise<{ active: boolean; price: bigint }> }>();

async function slotState(chain: ChainContext, slot: number): Promise<{ active: boolean; price: bigint }> {
  const key = `${chain.chainId}:${chain.assets}:${slot}`;
  const cached = slotCache.get(key);
  if (cached && Date.now() - cached.at < SLOT_CACHE_MS) return cached.info;
  const info = chain.client
    .readContract({ address: chain.assets, abi: kipAssetsAbi, functionName: "slotInfo", args: [BigInt(slot)] })
    .then((result) => ({ active: result.active, price: result.pricePerQuery }));
  slotCache.set(key, { at: Date.now(), info });
  info.catch(() => slotCache.delete(key));
  return info;
}

/** Forget cached prices (after a price change, in tests). */
export function clearSlotCache(): void {
  slotCache.clear();
  appCache.clear();
}

const listingSelect = { id: true, name: true, slotId: true, status: true, chainId: true, assets: true } as const;

/** App rows change rarely (listing edits); they are re-read at most this often. */
export const APP_CACHE_MS = 5_000;
/** Apps kept at most (the oldest goes first). */
const APP_CACHE_LIMIT = 1_000;
const appCache = new Map<string, { at: number; row: ReturnType<typeof readApp> }>();

function readApp(db: Db, appId: string) {
  return db.app.findUnique({
    where: { listingId: appId },
    include: {
      listing: { select: { ...listingSelect, description: true } },
      model: { include: { listing: { select: listingSelect } } },
      datasets: { include: { dataset: { include: { listing: { select: listingSelect } } } } },
    },
  });
}

/** The app with its model, datasets and current charge set; a ChatError when it cannot be used. */
export async function loadChatApp(db: Db, chain: ChainContext, appId: string): Promise<ChatApp> {
  let cached = appCache.get(appId);
  if (!cached || Date.now() - cached.at >= APP_CACHE_MS) {
    // Anyone may ask for any id: the cache holds apps that exist, and a bounded number of them.
    if (!appCache.has(appId) && appCache.size >= APP_CACHE_LIMIT) appCache.delete(appCache.keys().next().value!);
    const entry = { at: Date.now(), row: readApp(db, appId) };
    appCache.set(appId, entry);
    const drop = () => {
      if (appCache.get(appId) === entry) appCache.delete(appId);
    };
    entry.row.then((row) => row === null && drop(), drop);
    cached = entry;
  }
  const app = await cached.row;
  const sameDeployment = (l: { chainId: number; assets: string }) =>
    l.chainId === chain.chainId && l.assets.toLowerCase() === chain.assets.toLowerCase();
  if (!app || !sameDeployment(app.listing)) throw new ChatError("not_found", "app_unavailable", "There is no such app on this marketplace.");
  const parts: { role: ChargeSlot["role"]; listing: { id: string; name: string; slotId: number | null; status: string; chainId: number; assets: string } }[] = [
    { role: "app", listing: app.listing },
    { role: "model", listing: app.model.listing },
    ...app.datasets
      .map((d) => ({ role: "dataset" as const, listing: d.dataset.listing }))
      .sort((a, b) => (a.listing.slotId ?? 0) - (b.listing.slotId ?? 0)),
  ];
  for (const part of parts) {
    if (part.listing.status !== "listed" || part.listing.slotId === null || !sameDeployment(part.listing)) {
      throw new ChatError("conflict", "app_unavailable", `“${part.listing.name}” is not listed on chain yet, so this app cannot answer.`);
    }
  }
  let states: { active: boolean; price: bigint }[];
  try {
    states = await Promise.all(parts.map((part) => slotState(chain, part.listing.slotId!)));
  } catch (error) {
    throw new ChatError("upstream_unavailable", "chain_unavailable", `The chain cannot be reached to read this app's prices (${shortError(error)}).`);
  }
  const inactive = parts.find((_, i) => !states[i].active);
  if (inactive) throw new ChatError("conflict", "app_unavailable", `“${inactive.listing.name}” has been deactivated by its creator.`);
  const slots: ChargeSlot[] = parts.map((part, i) => {
    const slot = { role: part.role, listingId: part.listing.id, name: part.listing.name, slot: String(part.listing.slotId), price: states[i].price.toString() };
    if (part.role !== "model") return slot;
    // A model's maximum per query is its price per query plus its token prices at the budgets.
    const pricing: ModelPricing = { perQuery: states[i].price, perKInput: BigInt(app.model.pricePerKInput), perKOutput: BigInt(app.model.pricePerKOutput) };
    return {
      ...slot,
      price: modelMaxCharge(pricing).toString(),
      pricing: { perQuery: pricing.perQuery.toString(), perKInput: pricing.perKInput.toString(), perKOutput: pricing.perKOutput.toString() },
    };
  });
  // A query's amount to one slot travels as 64 bits in its on-chain record. A price set on chain past that
  // (KipAssets takes up to 80 bits) could never settle, and every answer on it would be free.
  const unsettleable = slots.find((s) => BigInt(s.price) > LIMITS.amount);
  if (unsettleable) {
    throw new ChatError("conflict", "app_unavailable", `“${unsettleable.name}” is priced above what one query can settle (2^64 - 1 base units), so this app cannot answer.`);
  }
  const maxTotal = slots.reduce((sum, s) => sum + BigInt(s.price), 0n);
  return {
    id: app.listingId,
    name: app.listing.name,
    description: app.listing.description,
    systemPrompt: app.systemPrompt,
    topK: app.topK,
    model: { ...app.model, name: app.model.listing.name },
    datasets: app.datasets.map((d) => ({ id: d.datasetId, name: d.dataset.listing.name })),
    chargeSet: {
      appId: app.listingId,
      chainId: chain.chainId,
      settlement: chain.settlement,
      operator: chain.operator,
      slots,
      maxTotal: maxTotal.toString(),
      free: maxTotal === 0n,
    },
  };
}

/** The app's model's health as the last probe found it (read on every call: a probe's result counts at once). */
export async function chatModelHealth(db: Db, app: Pick<ChatApp, "model">, probeIntervalMs: number): Promise<ModelHealthView> {
  if (app.model.provider === "offline") return healthView("offline", null, 0);
  return healthView(app.model.provider, await storedHealth(db, app.model.listingId), staleAfterMs(probeIntervalMs));
}

/**
 * Refuses a question, before anything is stored or charged, when a recent probe found the app's model
 * down. A missing, unknown or out-of-date check never refuses: the answer then fails on its own (and is
 * not charged) if the model really is down.
 */
export async function assertModelAvailable(db: Db, app: Pick<ChatApp, "model">, probeIntervalMs: number): Promise<void> {
  const health = await chatModelHealth(db, app, probeIntervalMs);
  if (!isDown(health)) return;
  throw new ChatError(
    "upstream_unavailable",
    "model_down",
    `This app's model “${app.model.name}” is down (${health.reason ?? "it did not answer"}; checked ${ago(health.checkedAt!)}). Nothing was sent or charged: try again once it is back.`,
    { "Retry-After": String(Math.ceil(Math.max(probeIntervalMs, 10_000) / 1000)) },
  );
}

export function shortError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 160);
}
