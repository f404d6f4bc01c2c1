// Reads holdings, asset and protocol reports from the chain: the event index (lib/chain/indexer.ts) for
// history, contract views for the current state (ownerOf, balanceOf, slotOf, claimable, slotInfo), and the
// pure figures of lib/chain/earnings.ts in between. The marketplace database only contributes names and
// app/dataset/model relations, never amounts. Dependencies are passed in so tests can call it directly.
import { getAddress, type Address, type Hex, type PublicClient } from "viem";
import type { Deployment } from "@/lib/chain/deployment";
import {
  assetKindName,
  candidateTokenIds,
  dailyActivity,
  ledgerClaimable,
  protocolTotals,
  replaySlot,
  sharePercent,
  slotQueries,
  type SlotQuery,
} from "@/lib/chain/earnings";
import type { EventOf } from "@/lib/chain/events";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi, mockUsdAbi } from "@/lib/chain/generated";
import { readEvents, syncIndex, type IndexState } from "@/lib/chain/indexer";
import {
  RECENT_QUERIES,
  type AssetSummary,
  type HoldingsReport,
  type PaymentTokenInfo,
  type ProtocolReport,
  type QueryRow,
  type RelatedListing,
  type SlotReport,
  type TokenReport,
} from "@/lib/chain/reports";
import { AppError } from "@/lib/errors";
import type { PrismaClient } from "@/lib/generated/prisma/client";

export interface ReaderContext {
  db: PrismaClient;
  client: PublicClient;
  deployment: Pick<Deployment, "chainId" | "assets" | "settlement" | "licences" | "startBlock" | "paymentToken">;
  /** The app's origin: slot URIs served by this app name their listing. */
  appUrl: string;
}

/** Node errors become a 502 that says the chain could not be read. */
async function fromChain<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError("upstream_unavailable", `Could not read ${what} from the chain.`, { cause: error });
  }
}

async function paymentToken(ctx: ReaderContext): Promise<PaymentTokenInfo> {
  const address = getAddress(ctx.deployment.paymentToken);
  const [symbol, decimals] = await Promise.all([
    ctx.client.readContract({ address, abi: mockUsdAbi, functionName: "symbol" }),
    ctx.client.readContract({ address, abi: mockUsdAbi, functionName: "decimals" }),
  ]);
  return { address, symbol, decimals };
}

const assets = (ctx: ReaderContext) => getAddress(ctx.deployment.assets);

/** Names and listing ids of slots, from the marketplace's listings, with the slot URI as the fallback. */
async function describeSlots(ctx: ReaderContext, slots: readonly bigint[]): Promise<Map<bigint, AssetSummary>> {
  const unique = [...new Set(slots)];
  const [infos, listings] = await Promise.all([
    Promise.all(unique.map((slot) => ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "slotInfo", args: [slot] }))),
    ctx.db.listing.findMany({
      where: { chainId: ctx.deployment.chainId, assets: { in: [ctx.deployment.assets, getAddress(ctx.deployment.assets), ctx.deployment.assets.toLowerCase()] }, slotId: { in: unique.map(Number) } },
      select: { id: true, slotId: true, name: true },
    }),
  ]);
  const bySlot = new Map(listings.map((listing) => [BigInt(listing.slotId!), listing]));
  // Slot URIs are set by whoever lists; the server never fetches them (that would let anyone make it call
  // arbitrary hosts). A URI of this app's own metadata route names its listing, which is looked up here.
  const ownPrefix = `${ctx.appUrl.replace(/\/$/, "")}/api/metadata/listings/`;
  const viaUri = new Map<bigint, string>();
  unique.forEach((slot, i) => {
    const uri = infos[i].uri;
    if (!bySlot.has(slot) && uri.startsWith(ownPrefix)) viaUri.set(slot, uri.slice(ownPrefix.length));
  });
  const uriListings = viaUri.size
    ? await ctx.db.listing.findMany({ where: { id: { in: [...viaUri.values()] } }, select: { id: true, name: true } })
    : [];
  const byId = new Map(uriListings.map((listing) => [listing.id, listing]));
  const result = new Map<bigint, AssetSummary>();
  unique.forEach((slot, i) => {
    const info = infos[i];
    const listing = bySlot.get(slot);
    const uriListing = byId.get(viaUri.get(slot) ?? "");
    result.set(slot, {
      slot: slot.toString(),
      kind: assetKindName(Number(info.kind)),
      name: listing?.name ?? uriListing?.name ?? `Slot ${slot}`,
      nameSource: listing ? "listing" : uriListing ? "metadata" : "none",
      listingId: listing?.id ?? uriListing?.id ?? null,
      creator: getAddress(info.creator),
      active: info.active,
      pricePerQuery: info.pricePerQuery.toString(),
      revenue: info.revenue.toString(),
      uri: info.uri,
    });
  });
  return result;
}

const queryRow = (query: SlotQuery): QueryRow => ({
  blockNumber: query.blockNumber,
  timestamp: query.timestamp,
  txHash: query.txHash,
  payer: query.payer,
  recordHash: query.recordHash,
  amount: query.amount.toString(),
});

const newestFirst = <T extends { blockNumber: number }>(rows: T[]) => [...rows].reverse();

/** Everything one slot's history holds for its tokens: ledgers, queries, credits. */
async function slotHistory(ctx: ReaderContext, state: IndexState, slot: bigint) {
  const joined = await readEvents(ctx.db, state, { names: ["SlotChanged"], slots: [slot] });
  const tokenIds = joined.map((event) => (event as EventOf<"SlotChanged">).tokenId);
  const [moves, credits, settled] = await Promise.all([
    tokenIds.length ? readEvents(ctx.db, state, { names: ["TransferValue", "RevenueClaimed"], tokenIds }) : Promise.resolve([]),
    readEvents(ctx.db, state, { names: ["RevenueCredited"], slots: [slot] }),
    readEvents(ctx.db, state, { names: ["BatchSettled"], chargedSlots: [slot] }),
  ]);
  const ledgers = replaySlot([...joined, ...moves, ...credits], slot);
  const queries = slotQueries(settled, slot);
  return { tokenIds, ledgers, queries, credits: credits as EventOf<"RevenueCredited">[], moves };
}

/** Every asset token `owner` holds now, with its earnings, read from the chain. */
export async function readHoldings(ctx: ReaderContext, ownerInput: Address): Promise<HoldingsReport> {
  const owner = getAddress(ownerInput);
  return fromChain("the wallet's asset tokens", async () => {
    const [token, state] = await Promise.all([paymentToken(ctx), syncIndex(ctx)]);
    const [received, listed] = await Promise.all([
      readEvents(ctx.db, state, { names: ["Transfer"], account: owner }),
      readEvents(ctx.db, state, { names: ["AssetListed"], account: owner }),
    ]);
    // Candidates from Transfer logs, confirmed by ownerOf at the head the index saw.
    const candidates = candidateTokenIds(received, owner);
    const blockNumber = BigInt(state.headBlock);
    const owners = await Promise.all(
      candidates.map((id) => ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "ownerOf", args: [id], blockNumber })),
    );
    const held = candidates.filter((_, i) => getAddress(owners[i]) === owner);
    const views = await Promise.all(
      held.map(async (id) => {
        const [shares, slot, claimable] = await Promise.all([
          ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "balanceOf", args: [id], blockNumber }),
          ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "slotOf", args: [id], blockNumber }),
          ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "claimable", args: [id], blockNumber }),
        ]);
        return { id, shares, slot, claimable };
      }),
    );
    const createdSlots = listed.map((event) => (event as EventOf<"AssetListed">).slot);
    const summaries = await describeSlots(ctx, [...views.map((view) => view.slot), ...createdSlots]);
    const slots = [...new Set(views.map((view) => view.slot))];
    const histories = new Map(await Promise.all(slots.map(async (slot) => [slot, await slotHistory(ctx, state, slot)] as const)));

    const tokens: TokenReport[] = views.map((view) => {
      const history = histories.get(view.slot)!;
      const ledger = history.ledgers.get(view.id) ?? { tokenId: view.id, slot: view.slot, value: 0n, earnedScaled: 0n, claimed: 0n, credits: [], claims: [] };
      const claimed = ledger.claimed;
      const valueTxHashes = [
        ...new Set(
          history.moves
            .filter((event) => event.name === "TransferValue" && (event.fromTokenId === view.id || event.toTokenId === view.id))
            .map((event) => event.txHash),
        ),
      ];
      return {
        tokenId: view.id.toString(),
        asset: summaries.get(view.slot)!,
        shares: view.shares.toString(),
        sharePercent: sharePercent(view.shares),
        claimable: view.claimable.toString(),
        claimed: claimed.toString(),
        totalEarned: (claimed + view.claimable).toString(),
        queriesServed: history.queries.length,
        matchesChain: ledger.value === view.shares && ledgerClaimable(ledger) === view.claimable,
        earnings: ledger.credits.map((credit) => ({
          blockNumber: credit.blockNumber,
          timestamp: credit.timestamp,
          txHash: credit.txHash,
          slotAmount: credit.slotAmount.toString(),
          earnedScaled: credit.earnedScaled.toString(),
          cumulativeScaled: credit.cumulativeScaled.toString(),
        })),
        claims: newestFirst(ledger.claims).map((claim) => ({ ...claim, amount: claim.amount.toString() })),
        recentQueries: newestFirst(history.queries).slice(0, RECENT_QUERIES).map(queryRow),
        valueTxHashes,
      };
    });
    const sum = (pick: (t: TokenReport) => string) => tokens.reduce((total, t) => total + BigInt(pick(t)), 0n).toString();
    return {
      owner,
      token,
      headBlock: state.headBlock,
      tokens,
      totals: { claimable: sum((t) => t.claimable), totalEarned: sum((t) => t.totalEarned), claimed: sum((t) => t.claimed) },
      created: [...new Set(createdSlots)].map((slot) => summaries.get(slot)!),
    };
  });
}

/** One asset: its queries and revenue per day, holders, price history and marketplace relations. */
export async function readSlotReport(ctx: ReaderContext, slot: bigint): Promise<SlotReport> {
  const exists = await fromChain("the asset", () => ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "slotExists", args: [slot] }));
  if (!exists) throw new AppError("not_found", `Slot ${slot} is not listed on this chain.`);
  return fromChain("the asset's history", async () => {
    const [token, state] = await Promise.all([paymentToken(ctx), syncIndex(ctx)]);
    const [summaries, history, priceEvents] = await Promise.all([
      describeSlots(ctx, [slot]),
      slotHistory(ctx, state, slot),
      readEvents(ctx.db, state, { names: ["AssetListed", "PriceUpdated"], slots: [slot] }),
    ]);
    const asset = summaries.get(slot)!;
    const blockNumber = BigInt(state.headBlock);
    const holders = (
      await Promise.all(
        history.tokenIds.map(async (id) => {
          const [owner, shares, claimable] = await Promise.all([
            ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "ownerOf", args: [id], blockNumber }),
            ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "balanceOf", args: [id], blockNumber }),
            ctx.client.readContract({ address: assets(ctx), abi: kipAssetsAbi, functionName: "claimable", args: [id], blockNumber }),
          ]);
          return { tokenId: id.toString(), owner: getAddress(owner), shares: shares.toString(), sharePercent: sharePercent(shares), claimable: claimable.toString() };
        }),
      )
    ).filter((holder) => holder.shares !== "0" || holder.claimable !== "0");

    const listing = asset.listingId
      ? await ctx.db.listing.findUnique({
          where: { id: asset.listingId },
          select: {
            description: true,
            dataset: { select: { apps: { select: { app: { select: { listing: { select: { id: true, slotId: true, kind: true, name: true } } } } } } } },
            model: { select: { apps: { select: { listing: { select: { id: true, slotId: true, kind: true, name: true } } } } } },
            app: {
              select: {
                model: { select: { listing: { select: { id: true, slotId: true, kind: true, name: true } } } },
                datasets: { select: { dataset: { select: { listing: { select: { id: true, slotId: true, kind: true, name: true } } } } } },
              },
            },
          },
        })
      : null;
    const related = (l: { id: string; slotId: number | null; kind: string; name: string }): RelatedListing => ({
      listingId: l.id,
      slot: l.slotId === null ? null : String(l.slotId),
      kind: l.kind as RelatedListing["kind"],
      name: l.name,
    });
    const usedBy = [
      ...(listing?.dataset?.apps.map((a) => related(a.app.listing)) ?? []),
      ...(listing?.model?.apps.map((a) => related(a.listing)) ?? []),
    ];
    const uses = listing?.app ? [related(listing.app.model.listing), ...listing.app.datasets.map((d) => related(d.dataset.listing))] : [];

    const daily = dailyActivity(history.queries, history.credits);
    return {
      asset,
      description: listing?.description ?? null,
      token,
      headBlock: state.headBlock,
      queries: history.queries.length,
      gross: history.queries.reduce((total, query) => total + query.amount, 0n).toString(),
      daily: daily.map((day) => ({ ...day, gross: day.gross.toString(), net: day.net.toString() })),
      recentQueries: newestFirst(history.queries).slice(0, RECENT_QUERIES).map(queryRow),
      holders,
      priceHistory: priceEvents.map((event) => ({
        blockNumber: event.blockNumber,
        timestamp: event.timestamp,
        txHash: event.txHash,
        price: (event.name === "AssetListed" ? event.pricePerQuery : (event as EventOf<"PriceUpdated">).newPrice).toString(),
      })),
      usedBy,
      uses,
    };
  });
}

/** Protocol-wide figures: queries settled, paid, fees, top assets. */
export async function readProtocolReport(ctx: ReaderContext, { top = 10 }: { top?: number } = {}): Promise<ProtocolReport> {
  return fromChain("the protocol's figures", async () => {
    const settlement = getAddress(ctx.deployment.settlement);
    const [token, state] = await Promise.all([paymentToken(ctx), syncIndex(ctx)]);
    const blockNumber = BigInt(state.headBlock);
    const [events, feeBps, feesAccrued, licenceFeesAccrued, totalDeposits] = await Promise.all([
      readEvents(ctx.db, state, { names: ["BatchSettled", "RevenueCredited", "LicenceBought"] }),
      ctx.client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "feeBps", blockNumber }),
      ctx.client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "feesAccrued", blockNumber }),
      ctx.client.readContract({ address: getAddress(ctx.deployment.licences), abi: kipLicencesAbi, functionName: "feesAccrued", blockNumber }),
      ctx.client.readContract({ address: settlement, abi: kipSettlementAbi, functionName: "totalDeposits", blockNumber }),
    ]);
    const totals = protocolTotals(events);
    const topSlots = totals.slots.slice(0, top);
    const summaries = await describeSlots(ctx, topSlots.map((entry) => entry.slot));
    return {
      token,
      headBlock: state.headBlock,
      feeBps: Number(feeBps),
      batches: totals.batches,
      queriesSettled: totals.queriesSettled.toString(),
      sessionsRejected: totals.sessionsRejected.toString(),
      totalPaid: totals.totalPaid.toString(),
      fees: totals.fees.toString(),
      netToHolders: totals.netToHolders.toString(),
      feesAccrued: (feesAccrued + licenceFeesAccrued).toString(),
      licencesSold: totals.licencesSold,
      totalDeposits: totalDeposits.toString(),
      batchTxHashes: totals.batchTxHashes.slice(0, 50) as Hex[],
      topAssets: topSlots.map((entry) => ({ ...summaries.get(entry.slot)!, queries: entry.queries, gross: entry.gross.toString(), net: entry.net.toString() })),
    };
  });
}

