// What a payer can still spend with this operator: the prepaid balance on chain, minus the withdrawal they
// requested, minus what their unsettled receipts hold.
//
// The quick reading (the receipts, then the chain) counts a settlement twice when it lands in between:
// its receipts are still "sending" in the database while the chain already shows them paid. That only
// makes the balance look smaller, never larger, so a message it admits is always covered. When it says
// the balance is short, `exactHeadroom` reads again so that nothing is counted twice:
//   1. the payer's open receipts, with the stored transaction of each one that is being sent;
//   2. the newest block number B, and at B: the balance, the withdrawal, and the settled-state commitment
//      of each session with receipts being sent;
//   3. whether any receipt that was not broadcast at step 1 has been broadcast since.
// Settled at step 1 means mined before B. A receipt being sent at step 1 is in B's balance exactly when its
// session's commitment at B is the one its transaction produces (only this operator moves that state).
// One not broadcast at step 1 and still not broadcast at step 3 is not in B. If step 3 finds a receipt
// broadcast meanwhile, the reading is repeated; after a few tries the conservative figure stands.
import { getAddress, parseTransaction, type Address, type Hex } from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import { Prisma } from "@/lib/generated/prisma/client";
import { decodeSettle, stateAfter } from "@/lib/protocol";
import type { ChainContext } from "./charges";
import { shortError } from "./charges";
import { ChatError } from "./errors";
import { HELD, OPEN, OPEN_STATUSES, type DbOrTx } from "./store";

/** How many times a reading disturbed by a broadcast is repeated before the conservative one stands. */
const EXACT_TRIES = 3;

/** The payer's prepaid balance with this operator on chain (at `blockNumber`, else the newest), minus the withdrawal it has requested. */
export async function spendable(chain: ChainContext, payer: Address, blockNumber?: bigint): Promise<bigint> {
  try {
    const [balance, withdrawal] = await Promise.all([
      chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "balanceOf", args: [payer, chain.operator], blockNumber }),
      chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [payer, chain.operator], blockNumber }),
    ]);
    return balance - withdrawal.amount;
  } catch (error) {
    throw chainDown(error);
  }
}

/** When the payer revoked session `hash` on chain (its `revokedAt`, unix seconds), or 0 if never. */
export async function revokedOnChain(chain: ChainContext, hash: Hex): Promise<bigint> {
  try {
    return await chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "revokedAt", args: [hash] });
  } catch (error) {
    throw chainDown(error);
  }
}

function chainDown(error: unknown): ChatError {
  return new ChatError("upstream_unavailable", "chain_unavailable", `The chain cannot be reached to check your balance (${shortError(error)}).`);
}

interface OpenReceipt {
  id: string;
  status: (typeof OPEN_STATUSES)[number];
  sessionHash: string;
  held: string;
  batchId: string | null;
  rawTx: string | null;
}

/** The payer's receipts that still hold money, each with the stored transaction of its batch (if any). */
function openReceipts(db: DbOrTx, chain: Pick<ChainContext, "chainId" | "settlement">, payer: Address) {
  return db.$queryRaw<OpenReceipt[]>`
    SELECT "id", "status", "sessionHash", "batchId", ${HELD}::text AS held,
      (SELECT b."rawTx" FROM "SettlementBatch" b WHERE b."id" = "Receipt"."batchId") AS "rawTx"
    FROM "Receipt"
    WHERE "payer" = ${payer} AND "status" IN (${OPEN}) AND "chainId" = ${chain.chainId}::int AND "settlement" = ${chain.settlement}`;
}

/** A receipt that may be on chain: being sent in a batch whose transaction was stored (and so may have been broadcast). */
const mayBeOnChain = (r: Pick<OpenReceipt, "status" | "rawTx">) => r.status === "sending" && r.rawTx !== null;

/** How many of `ids` have been broadcast (or settled) by now. */
async function broadcastSince(db: DbOrTx, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const [row] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM "Receipt" r LEFT JOIN "SettlementBatch" b ON b."id" = r."batchId"
    WHERE r."id" IN (${Prisma.join(ids)}) AND (r."status" = 'settled' OR (r."status" = 'sending' AND b."rawTx" IS NOT NULL))`;
  return row.n;
}

/** For each session of `rows` being sent, the commitment its batch's transaction leaves on chain. */
function expectedStates(rows: OpenReceipt[]): Map<string, Hex> {
  const states = new Map<string, Hex>();
  const sessions = new Set(rows.filter(mayBeOnChain).map((r) => `${r.batchId}:${r.sessionHash.toLowerCase()}`));
  const decoded = new Map<string, ReturnType<typeof decodeSettle>>();
  for (const row of rows.filter(mayBeOnChain)) {
    let items = decoded.get(row.batchId!);
    if (!items) {
      try {
        items = decodeSettle(parseTransaction(row.rawTx as Hex).data ?? "0x");
      } catch {
        items = [];
      }
      decoded.set(row.batchId!, items);
    }
    for (const item of items) {
      const key = `${row.batchId}:${item.voucher.session.toLowerCase()}`;
      if (!item.records || !sessions.has(key) || states.has(key)) continue;
      states.set(key, stateAfter({ voucher: item.voucher, prevSettled: item.prevSettled, records: item.records }));
    }
  }
  return states;
}

/** One reading (steps 1–3 above); `exact` is false when a broadcast landed during it (it then counts that one twice). */
async function readOnce(db: DbOrTx, chain: ChainContext, payer: Address): Promise<{ headroom: bigint; exact: boolean }> {
  const rows = await openReceipts(db, chain, payer);
  let block: bigint;
  try {
    block = await chain.client.getBlockNumber({ cacheTime: 0 });
  } catch (error) {
    throw chainDown(error);
  }
  const expected = expectedStates(rows);
  const sessions = [...new Set([...expected.keys()].map((key) => key.split(":")[1]))];
  const [available, onChain] = await Promise.all([
    spendable(chain, payer, block),
    Promise.all(
      sessions.map((session) =>
        chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "sessionState", args: [session as Hex], blockNumber: block }).catch((error: unknown) => {
          throw chainDown(error);
        }),
      ),
    ),
  ]);
  const stateAtBlock = new Map(sessions.map((session, i) => [session, onChain[i].toLowerCase()]));
  let held = 0n;
  for (const row of rows) {
    const key = `${row.batchId}:${row.sessionHash.toLowerCase()}`;
    const inBlock = mayBeOnChain(row) && expected.get(key)?.toLowerCase() === stateAtBlock.get(row.sessionHash.toLowerCase());
    if (!inBlock) held += BigInt(row.held);
  }
  const notBroadcast = rows.filter((r) => !mayBeOnChain(r)).map((r) => r.id);
  return { headroom: available - held, exact: (await broadcastSince(db, notBroadcast)) === 0 };
}

/**
 * What the payer can spend now with nothing counted twice: see the top of this file. Never more than the
 * truth; equal to it unless broadcasts kept landing during every try.
 */
export async function exactHeadroom(db: DbOrTx, chain: ChainContext, payer: Address): Promise<bigint> {
  const owner = getAddress(payer);
  let reading = await readOnce(db, chain, owner);
  for (let tries = 1; !reading.exact && tries < EXACT_TRIES; tries++) reading = await readOnce(db, chain, owner);
  return reading.headroom;
}
