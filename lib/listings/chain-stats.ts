import "server-only";
// Marketplace figures from the chain, through the protocol event index (lib/chain/indexer.ts) that the
// dashboards use too: queries served per slot (the query records of each settlement's settled items) and
// each slot's current price (AssetListed, then PriceUpdated). The database's prices are a cache written
// when listings and edits are confirmed; a price changed from anywhere else (the dashboard, another
// client) shows from here.
import { readEvents, syncIndex } from "@/lib/chain/indexer";
import { protocolTotals } from "@/lib/chain/earnings";
import type { ReaderContext } from "@/lib/chain/earnings-reader";

export interface SlotFigures {
  queries: number;
  pricePerQuery: bigint;
}

export async function figuresBySlot(ctx: Pick<ReaderContext, "db" | "client" | "deployment">): Promise<Map<number, SlotFigures>> {
  const state = await syncIndex(ctx);
  const events = await readEvents(ctx.db, state, { names: ["AssetListed", "PriceUpdated", "BatchSettled"] });
  const figures = new Map<number, SlotFigures>();
  const of = (slot: bigint) => {
    let entry = figures.get(Number(slot));
    if (!entry) figures.set(Number(slot), (entry = { queries: 0, pricePerQuery: 0n }));
    return entry;
  };
  for (const event of events) {
    if (event.name === "AssetListed") of(event.slot).pricePerQuery = event.pricePerQuery;
    else if (event.name === "PriceUpdated") of(event.slot).pricePerQuery = event.newPrice;
  }
  for (const totals of protocolTotals(events).slots) of(totals.slot).queries = totals.queries;
  return figures;
}
