// The protocol event index: KipAssets, KipSettlement and KipLicences logs since the deployment's start block, decoded
// and kept in the database (ChainCursor + ChainEvent + ChainCharge) so that dashboards do not rescan the
// chain on every request. It is a cache: every read first catches up to the chain's head, the blocks
// younger than CONFIRMATIONS are read live from the node and never stored, and a stored block whose hash
// changed (a deep reorg, or a local chain that was reset) makes the index rebuild from the start block.
// Takes its database and node as arguments so scripts and tests can run it outside Next.js.
import { isAddressEqual, type Address, type Hex, type Log, type PublicClient } from "viem";
import type { Deployment } from "@/lib/chain/deployment";
import {
  ASSET_EVENTS,
  LICENCE_EVENTS,
  SETTLEMENT_EVENTS,
  chargesOf,
  compareEvents,
  decodeProtocolLog,
  eventKeys,
  parseEventArgs,
  serializeEventArgs,
  settledItems,
  type EventName,
  type LogSource,
  type ProtocolEvent,
} from "@/lib/chain/events";
import { kipAssetsAbi, kipLicencesAbi, kipSettlementAbi } from "@/lib/chain/generated";
import { settlementOutcome } from "@/lib/protocol";
import type { Prisma, PrismaClient } from "@/lib/generated/prisma/client";
import { isLocalChain } from "@/lib/env";

/** Blocks newer than head - CONFIRMATIONS are not stored (they could still be reorganised away). */
export function confirmationsFor(chainId: number): number {
  return isLocalChain(chainId) ? 0 : 12;
}

/** Blocks per eth_getLogs request (public RPCs commonly cap ranges at a few thousand). */
export const LOG_RANGE = 2_000;

export interface IndexSource {
  db: PrismaClient;
  client: PublicClient;
  deployment: Pick<Deployment, "chainId" | "assets" | "settlement" | "licences" | "startBlock">;
}

export interface IndexState {
  cursorId: string;
  /** Last block whose logs are stored. */
  storedBlock: number;
  /** The chain head the read saw; events up to it are visible. */
  headBlock: number;
  /** Live events of the unconfirmed tail (storedBlock, headBlock]. */
  tail: ProtocolEvent[];
}

export function cursorIdOf(deployment: IndexSource["deployment"]): string {
  return `${deployment.chainId}:${deployment.assets.toLowerCase()}:${deployment.settlement.toLowerCase()}`;
}

// One sync at a time per cursor in this process: concurrent requests wait for the running one.
const running = new Map<string, Promise<IndexState>>();

/** Catch the index up to the chain's head and return what is visible (stored + live tail). */
export function syncIndex(source: IndexSource): Promise<IndexState> {
  const id = cursorIdOf(source.deployment);
  const previous = running.get(id) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => syncOnce(source, id));
  running.set(id, next);
  void next.finally(() => {
    if (running.get(id) === next) running.delete(id);
  }).catch(() => undefined);
  return next;
}

async function syncOnce({ db, client, deployment }: IndexSource, cursorId: string): Promise<IndexState> {
  // No cached block number: a read right after a transaction must see it.
  const head = Number(await client.getBlockNumber({ cacheTime: 0 }));
  const confirmed = head - confirmationsFor(deployment.chainId);
  const start = deployment.startBlock;

  let cursor = await db.chainCursor.findUnique({ where: { id: cursorId } });
  if (cursor && cursor.lastBlockHash && cursor.lastBlock >= start) {
    const stillThere =
      cursor.lastBlock <= head &&
      (await client.getBlock({ blockNumber: BigInt(cursor.lastBlock) }).then(
        (block) => block.hash === cursor!.lastBlockHash,
        () => false,
      ));
    if (!stillThere) {
      // The chain no longer has the block we stopped at: forget everything and rebuild.
      await db.chainCursor.delete({ where: { id: cursorId } });
      cursor = null;
    }
  }
  if (!cursor) {
    cursor = await db.chainCursor.create({ data: { id: cursorId, chainId: deployment.chainId, lastBlock: start - 1 } });
  }

  let stored = cursor.lastBlock;
  while (stored < confirmed) {
    const to = Math.min(confirmed, stored + LOG_RANGE);
    const events = await fetchEvents(client, deployment, stored + 1, to);
    const toBlock = await client.getBlock({ blockNumber: BigInt(to) });
    await db.$transaction(async (tx) => {
      // Another process may have written the same range: only the first writer's cursor move counts.
      const moved = await tx.chainCursor.updateMany({
        where: { id: cursorId, lastBlock: stored },
        data: { lastBlock: to, lastBlockHash: toBlock.hash },
      });
      if (moved.count === 0) return;
      for (const event of events) await tx.chainEvent.create({ data: eventRow(cursorId, event) });
    });
    const now = await db.chainCursor.findUniqueOrThrow({ where: { id: cursorId } });
    stored = now.lastBlock;
  }
  const tail = stored < head ? await fetchEvents(client, deployment, stored + 1, head) : [];
  return { cursorId, storedBlock: stored, headBlock: Math.max(head, stored), tail };
}

function eventRow(cursorId: string, event: ProtocolEvent): Prisma.ChainEventUncheckedCreateInput {
  const keys = eventKeys(event);
  const { blockNumber, logIndex, txHash, timestamp, ...body } = event;
  return {
    cursorId,
    blockNumber,
    logIndex,
    txHash,
    timestamp,
    name: event.name,
    args: serializeEventArgs(body),
    slot: keys.slot === null ? null : Number(keys.slot),
    tokenId: keys.tokenId === null ? null : Number(keys.tokenId),
    toTokenId: keys.toTokenId === null ? null : Number(keys.toTokenId),
    account: keys.account,
    charges:
      event.name === "BatchSettled"
        ? { create: chargesOf(event).map((charge, position) => ({ position, slot: Number(charge.slot), amount: charge.amount.toString() })) }
        : undefined,
  };
}

/** Decoded protocol events of the three contracts in [fromBlock, toBlock], in chain order. */
export async function fetchEvents(
  client: PublicClient,
  deployment: Pick<Deployment, "assets" | "settlement" | "licences">,
  fromBlock: number,
  toBlock: number,
): Promise<ProtocolEvent[]> {
  if (toBlock < fromBlock) return [];
  const range = { fromBlock: BigInt(fromBlock), toBlock: BigInt(toBlock) };
  const assetEvents = kipAssetsAbi.filter((item) => item.type === "event" && (ASSET_EVENTS as readonly string[]).includes(item.name));
  const settlementEvents = kipSettlementAbi.filter((item) => item.type === "event" && (SETTLEMENT_EVENTS as readonly string[]).includes(item.name));
  const licenceEvents = kipLicencesAbi.filter((item) => item.type === "event" && (LICENCE_EVENTS as readonly string[]).includes(item.name));
  const [assetLogs, settlementLogs, licenceLogs] = await Promise.all([
    client.getLogs({ address: deployment.assets as Address, events: assetEvents, ...range, strict: true }),
    client.getLogs({ address: deployment.settlement as Address, events: settlementEvents, ...range, strict: true }),
    client.getLogs({ address: deployment.licences as Address, events: licenceEvents, ...range, strict: true }),
  ]);
  const timestamps = new Map<bigint, number>();
  const timestampOf = async (log: Log) => {
    const blockNumber = log.blockNumber!;
    const known = timestamps.get(blockNumber);
    if (known !== undefined) return known;
    const fromLog = (log as Log & { blockTimestamp?: bigint | Hex }).blockTimestamp;
    const value = fromLog !== undefined && fromLog !== null ? Number(BigInt(fromLog)) : Number((await client.getBlock({ blockNumber })).timestamp);
    timestamps.set(blockNumber, value);
    return value;
  };
  const events: ProtocolEvent[] = [];
  const take = async (logs: Log[], source: LogSource) => {
    for (const log of logs) {
      const body = decodeProtocolLog(log, source);
      if (!body) continue;
      events.push({ blockNumber: Number(log.blockNumber), logIndex: log.logIndex!, txHash: log.transactionHash!, timestamp: await timestampOf(log), ...body });
    }
  };
  await take(assetLogs as Log[], "assets");
  await take(settlementLogs as Log[], "settlement");
  await take(licenceLogs as Log[], "licences");
  await attachItems(client, deployment.settlement as Address, events, settlementLogs as Log[]);
  return events.sort(compareEvents);
}

/**
 * Fills each BatchSettled event's settled items from its transaction: the input (sent by the operator)
 * carries every item and its queries' records (docs/settlement-format.md), and the transaction's
 * SessionRejected logs say which items the contract skipped. Those logs are among `settlementLogs`: a
 * transaction's logs are all in its block, and the ranges read are whole blocks. This is how anyone reads
 * every settled query from the chain alone.
 */
async function attachItems(client: PublicClient, settlement: Address, events: ProtocolEvent[], settlementLogs: readonly Log[]): Promise<void> {
  const batches = events.filter((event) => event.name === "BatchSettled");
  const perTx = new Map<Hex, number>();
  for (const event of batches) perTx.set(event.txHash, (perTx.get(event.txHash) ?? 0) + 1);
  await inParallel(batches, INPUT_READS, async (event) => {
    // Two batches in one transaction were settled through another contract: the input is not theirs.
    if (perTx.get(event.txHash) !== 1) return;
    const tx = await client.getTransaction({ hash: event.txHash });
    // Only a direct call of the operator has the batch as its input (a call through a contract wallet
    // or a multicall does not): its queries are then unknown.
    if (!tx.to || !isAddressEqual(tx.to, settlement) || !isAddressEqual(tx.from, event.operator)) return;
    const logs = settlementLogs.filter((log) => log.transactionHash === event.txHash);
    try {
      event.items = settledItems(settlementOutcome(tx.input, event.operator, settlement, logs), event);
    } catch {
      // not a whole settle call
    }
  });
}

/** Transactions read at once while attaching settlements' items (a range may hold many batches). */
const INPUT_READS = 8;

async function inParallel<T>(values: readonly T[], limit: number, run: (value: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < values.length) await run(values[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, values.length) }, lane));
}

/** Which events to read. Token filters match either side of a value transfer. */
export interface EventFilter {
  names: readonly EventName[];
  slots?: readonly bigint[];
  tokenIds?: readonly bigint[];
  account?: Address;
  /** BatchSettled only: settlements with a settled query that charged one of these slots. */
  chargedSlots?: readonly bigint[];
}

function matches(event: ProtocolEvent, filter: EventFilter): boolean {
  if (!filter.names.includes(event.name)) return false;
  const keys = eventKeys(event);
  if (filter.slots && (keys.slot === null || !filter.slots.includes(keys.slot))) return false;
  if (filter.tokenIds && !((keys.tokenId !== null && filter.tokenIds.includes(keys.tokenId)) || (keys.toTokenId !== null && filter.tokenIds.includes(keys.toTokenId)))) {
    return false;
  }
  if (filter.account && keys.account !== filter.account.toLowerCase()) return false;
  if (filter.chargedSlots) {
    if (event.name !== "BatchSettled") return false;
    if (!chargesOf(event).some((charge) => filter.chargedSlots!.includes(charge.slot))) return false;
  }
  return true;
}

/** Events matching `filter` that the state's read can see (stored + live tail), in chain order. */
export async function readEvents(db: PrismaClient, state: IndexState, filter: EventFilter): Promise<ProtocolEvent[]> {
  const toInts = (values: readonly bigint[]) => values.map((value) => Number(value));
  const where: Prisma.ChainEventWhereInput = {
    cursorId: state.cursorId,
    blockNumber: { lte: state.storedBlock },
    name: { in: [...filter.names] },
    ...(filter.slots ? { slot: { in: toInts(filter.slots) } } : {}),
    ...(filter.tokenIds ? { OR: [{ tokenId: { in: toInts(filter.tokenIds) } }, { toTokenId: { in: toInts(filter.tokenIds) } }] } : {}),
    ...(filter.account ? { account: filter.account.toLowerCase() } : {}),
    ...(filter.chargedSlots ? { charges: { some: { slot: { in: toInts(filter.chargedSlots) } } } } : {}),
  };
  const rows = await db.chainEvent.findMany({ where, orderBy: [{ blockNumber: "asc" }, { logIndex: "asc" }] });
  const stored: ProtocolEvent[] = rows.map((row) => ({
    blockNumber: row.blockNumber,
    logIndex: row.logIndex,
    txHash: row.txHash as Hex,
    timestamp: row.timestamp,
    ...parseEventArgs(row.args),
  }));
  return [...stored, ...state.tail.filter((event) => matches(event, filter))];
}
