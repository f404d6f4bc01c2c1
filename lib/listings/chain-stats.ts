import "server-only";
// What the chain says about listed slots: price, cumulative revenue, holders and their shares, and how
// many settled queries charged each slot. Read with viem from views and logs; never from the database.
//   holders:        SlotChanged(tokenId, 0, slot) names the slot's tokens; ownerOf + balanceOf(tokenId)
//   total earned:   slotInfo(slot).revenue (the sum of its RevenueCredited events)
//   queries served: ReceiptSettled.charges (slot << 128 | amount) across all settled receipts
import { getAddress, type Address } from "viem";
import { kipAssetsAbi, kipSettlementAbi } from "@/lib/chain/generated";
import { serverPublicClient } from "@/lib/chain/server-client";
import { decodeCharges } from "@/lib/protocol";
import type { Deployment } from "@/lib/chain/deployment";

export interface Holder {
  address: Address;
  /** Shares held (of SHARES_PER_SLOT = 1,000,000). */
  shares: bigint;
  tokenIds: bigint[];
}

export interface SlotStats {
  slot: number;
  creator: Address;
  active: boolean;
  pricePerQuery: bigint;
  revenue: bigint;
  uri: string;
  contentHash: string;
  holders: Holder[];
  queries: number;
  charged: bigint;
}

export interface Usage {
  queries: number;
  /** Gross amount charged to the slot by settled receipts (before the protocol fee). */
  charged: bigint;
}

/** Blocks per eth_getLogs request: public RPCs refuse wide ranges (10,000 is a common limit). */
const LOG_RANGE = 10_000n;

/** Split [from, to] into ranges an RPC accepts. */
function blockRanges(from: bigint, to: bigint): [bigint, bigint][] {
  const ranges: [bigint, bigint][] = [];
  for (let start = from; start <= to; start += LOG_RANGE) ranges.push([start, start + LOG_RANGE - 1n < to ? start + LOG_RANGE - 1n : to]);
  return ranges;
}

// Settled receipts, scanned incrementally and kept per deployment: each call reads only new blocks.
const usageScans = new Map<string, { toBlock: bigint; bySlot: Map<number, Usage>; running?: Promise<void> }>();

/** Queries served per slot, from every ReceiptSettled event of the settlement contract. */
export async function usageBySlot(deployment: Deployment): Promise<Map<number, Usage>> {
  const key = `${deployment.chainId}:${deployment.settlement}`;
  let scan = usageScans.get(key);
  if (!scan) usageScans.set(key, (scan = { toBlock: BigInt(deployment.startBlock) - 1n, bySlot: new Map() }));
  const state = scan;
  state.running ??= (async () => {
    try {
      const client = serverPublicClient();
      // cacheTime 0: viem otherwise answers from a block number cached for a few seconds.
      const head = await client.getBlockNumber({ cacheTime: 0 });
      if (head <= state.toBlock) return;
      for (const [fromBlock, toBlock] of blockRanges(state.toBlock + 1n, head)) {
        const events = await client.getContractEvents({
          address: deployment.settlement as Address,
          abi: kipSettlementAbi,
          eventName: "ReceiptSettled",
          fromBlock,
          toBlock,
        });
        for (const event of events) {
          for (const charge of decodeCharges(event.args.charges ?? [])) {
            const slot = Number(charge.slot);
            const usage = state.bySlot.get(slot) ?? { queries: 0, charged: 0n };
            usage.queries += 1;
            usage.charged += charge.amount;
            state.bySlot.set(slot, usage);
          }
        }
        // Counted up to here: a failure later resumes after this range, never counts it twice.
        state.toBlock = toBlock;
      }
    } finally {
      state.running = undefined;
    }
  })();
  await state.running;
  return state.bySlot;
}

/** The slot's tokens: every SlotChanged(tokenId, 0, slot) since the slot was listed. */
async function slotTokens(assets: Address, slot: number, fromBlock: bigint): Promise<bigint[]> {
  const client = serverPublicClient();
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const tokens = new Set<bigint>();
  for (const [from, to] of blockRanges(fromBlock, head)) {
    const events = await client.getContractEvents({ address: assets, abi: kipAssetsAbi, eventName: "SlotChanged", args: { _newSlot: BigInt(slot) }, fromBlock: from, toBlock: to });
    for (const event of events) tokens.add(event.args._tokenId!);
  }
  return [...tokens];
}

/**
 * Everything the chain says about a slot. `listTxHash` (the listing transaction) lets the token scan
 * start at the slot's first block instead of the deployment's.
 */
export async function slotStats(deployment: Deployment, slot: number, listTxHash?: string | null): Promise<SlotStats> {
  const client = serverPublicClient();
  const assets = deployment.assets as Address;
  const listedAt = listTxHash
    ? await client
        .getTransactionReceipt({ hash: listTxHash as `0x${string}` })
        .then((r) => r.blockNumber)
        .catch(() => null)
    : null;
  const [info, tokenIds, usage] = await Promise.all([
    client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "slotInfo", args: [BigInt(slot)] }),
    slotTokens(assets, slot, listedAt ?? BigInt(deployment.startBlock)),
    usageBySlot(deployment),
  ]);
  const tokens = await Promise.all(
    tokenIds.map(async (tokenId) => {
      const [owner, value] = await Promise.all([
        client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "ownerOf", args: [tokenId] }),
        client.readContract({ address: assets, abi: kipAssetsAbi, functionName: "balanceOf", args: [tokenId] }),
      ]);
      return { tokenId, owner: getAddress(owner), value };
    }),
  );
  const holders = new Map<Address, Holder>();
  for (const token of tokens) {
    if (token.value === 0n) continue;
    const holder = holders.get(token.owner) ?? { address: token.owner, shares: 0n, tokenIds: [] };
    holder.shares += token.value;
    holder.tokenIds.push(token.tokenId);
    holders.set(token.owner, holder);
  }
  const used = usage.get(slot) ?? { queries: 0, charged: 0n };
  return {
    slot,
    creator: getAddress(info.creator),
    active: info.active,
    pricePerQuery: info.pricePerQuery,
    revenue: info.revenue,
    uri: info.uri,
    contentHash: info.contentHash,
    holders: [...holders.values()].sort((a, b) => (b.shares > a.shares ? 1 : b.shares < a.shares ? -1 : 0)),
    queries: used.queries,
    charged: used.charged,
  };
}
