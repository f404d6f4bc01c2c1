// Earnings, holdings and query figures computed from protocol events (lib/chain/events.ts) and view
// results. Pure: no node, no database. The replay mirrors KipAssets' accounting exactly (per-token value,
// revenue accrued as value * credited amount, scaled by SHARES_PER_SLOT, minus claims), so what it computes
// can be checked against `claimable(tokenId)` and `balanceOf(tokenId)` on chain.
import type { Address, Hex } from "viem";
import { compareEvents, type EventOf, type ProtocolEvent } from "@/lib/chain/events";

/** KipAssets.SHARES_PER_SLOT: the fixed share supply of every slot. */
export const SHARES_PER_SLOT = 1_000_000n;

export const ASSET_KINDS = ["dataset", "model", "app"] as const;
export type AssetKindName = (typeof ASSET_KINDS)[number];

export function assetKindName(kind: number): AssetKindName {
  const name = ASSET_KINDS[kind];
  if (!name) throw new RangeError(`unknown asset kind ${kind}`);
  return name;
}

const DAY = 86_400;

/** UTC day (YYYY-MM-DD) of a timestamp in seconds. */
export function utcDay(timestamp: number): string {
  return new Date(Math.floor(timestamp / DAY) * DAY * 1000).toISOString().slice(0, 10);
}

/** Token ids ever sent to `owner` (ERC-721 Transfer logs): the candidates to confirm with ownerOf. */
export function candidateTokenIds(events: readonly ProtocolEvent[], owner: Address): bigint[] {
  const lower = owner.toLowerCase();
  const ids = new Set<bigint>();
  for (const event of events) if (event.name === "Transfer" && event.to.toLowerCase() === lower) ids.add(event.tokenId);
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A revenue credit as one token saw it. */
export interface TokenCredit {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  /** Net revenue credited to the whole slot by this settlement. */
  slotAmount: bigint;
  /** The token's value (shares) at that moment. */
  value: bigint;
  /** What the token earned, scaled by SHARES_PER_SLOT (value * slotAmount). */
  earnedScaled: bigint;
  /** Everything the token had earned after this credit, scaled. */
  cumulativeScaled: bigint;
}

export interface TokenClaim {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  owner: Address;
  amount: bigint;
}

export interface TokenLedger {
  tokenId: bigint;
  slot: bigint;
  /** Shares held now. */
  value: bigint;
  /** All revenue ever accrued to the token, scaled by SHARES_PER_SLOT. */
  earnedScaled: bigint;
  /** Paid out by claims. */
  claimed: bigint;
  credits: TokenCredit[];
  claims: TokenClaim[];
}

/** What `claimable(tokenId)` returns: owed (earned minus claimed, scaled) in whole payment-token units. */
export function ledgerClaimable(ledger: Pick<TokenLedger, "earnedScaled" | "claimed">): bigint {
  return (ledger.earnedScaled - ledger.claimed * SHARES_PER_SLOT) / SHARES_PER_SLOT;
}

/** Total earned in whole units: claimed + claimable (the sub-unit remainder is not money yet). */
export function ledgerTotalEarned(ledger: Pick<TokenLedger, "earnedScaled">): bigint {
  return ledger.earnedScaled / SHARES_PER_SLOT;
}

/**
 * Replays one slot's history: tokens joining it (SlotChanged), value moving between them (TransferValue),
 * revenue credited to it (RevenueCredited) and claims (RevenueClaimed). Events of other slots are ignored,
 * so the caller may pass more than needed. Revenue credited before a token held value never reaches it:
 * the contract checkpoints both sides of every transfer, and so does this replay.
 */
export function replaySlot(events: readonly ProtocolEvent[], slot: bigint): Map<bigint, TokenLedger> {
  const ledgers = new Map<bigint, TokenLedger>();
  const sorted = [...events].sort(compareEvents);
  for (const event of sorted) {
    switch (event.name) {
      case "SlotChanged":
        if (event.newSlot === slot && !ledgers.has(event.tokenId)) {
          ledgers.set(event.tokenId, { tokenId: event.tokenId, slot, value: 0n, earnedScaled: 0n, claimed: 0n, credits: [], claims: [] });
        }
        break;
      case "TransferValue": {
        const from = ledgers.get(event.fromTokenId);
        const to = ledgers.get(event.toTokenId);
        if (event.fromTokenId === event.toTokenId) break;
        if (from) from.value -= event.value;
        if (to) to.value += event.value;
        break;
      }
      case "RevenueCredited":
        if (event.slot !== slot) break;
        for (const ledger of ledgers.values()) {
          if (ledger.value === 0n) continue;
          const earnedScaled = ledger.value * event.amount;
          ledger.earnedScaled += earnedScaled;
          ledger.credits.push({
            blockNumber: event.blockNumber,
            timestamp: event.timestamp,
            txHash: event.txHash,
            slotAmount: event.amount,
            value: ledger.value,
            earnedScaled,
            cumulativeScaled: ledger.earnedScaled,
          });
        }
        break;
      case "RevenueClaimed": {
        const ledger = ledgers.get(event.tokenId);
        if (!ledger) break;
        ledger.claimed += event.amount;
        ledger.claims.push({ blockNumber: event.blockNumber, timestamp: event.timestamp, txHash: event.txHash, owner: event.owner, amount: event.amount });
        break;
      }
      default:
        break;
    }
  }
  return ledgers;
}

/** One settled query that paid a slot (a charge with a non-zero amount). */
export interface SlotQuery {
  blockNumber: number;
  logIndex: number;
  timestamp: number;
  txHash: Hex;
  payer: Address;
  /** The query's record hash (binds its question, answer and passages). */
  recordHash: Hex;
  /** Gross amount charged to the slot by this query (before the protocol fee). */
  amount: bigint;
}

/**
 * Queries that paid `slot`: the records of the settled items of BatchSettled events with a charge to it, in
 * chain and batch order. A zero charge is not a query served by that slot.
 */
export function slotQueries(events: readonly ProtocolEvent[], slot: bigint): SlotQuery[] {
  const queries: SlotQuery[] = [];
  for (const event of [...events].sort(compareEvents)) {
    if (event.name !== "BatchSettled") continue;
    for (const item of event.items ?? []) {
      for (const record of item.records) {
        let amount = 0n;
        for (const charge of record.charges) if (charge.slot === slot) amount += charge.amount;
        if (amount === 0n) continue;
        queries.push({ blockNumber: event.blockNumber, logIndex: event.logIndex, timestamp: event.timestamp, txHash: event.txHash, payer: item.payer, recordHash: record.recordHash, amount });
      }
    }
  }
  return queries;
}

/** One UTC day of a slot's activity. */
export interface DailyActivity {
  day: string;
  queries: number;
  /** Gross charged to the slot by settled receipts. */
  gross: bigint;
  /** Net credited to the slot (after the protocol fee): what its holders share. */
  net: bigint;
  txHashes: Hex[];
}

/** Queries and revenue per UTC day, oldest first, for one slot. */
export function dailyActivity(queries: readonly SlotQuery[], credits: readonly EventOf<"RevenueCredited">[]): DailyActivity[] {
  const days = new Map<string, DailyActivity & { hashes: Set<Hex> }>();
  const at = (timestamp: number) => {
    const day = utcDay(timestamp);
    let entry = days.get(day);
    if (!entry) {
      entry = { day, queries: 0, gross: 0n, net: 0n, txHashes: [], hashes: new Set() };
      days.set(day, entry);
    }
    return entry;
  };
  for (const query of queries) {
    const entry = at(query.timestamp);
    entry.queries += 1;
    entry.gross += query.amount;
    entry.hashes.add(query.txHash);
  }
  for (const credit of credits) {
    const entry = at(credit.timestamp);
    entry.net += credit.amount;
    entry.hashes.add(credit.txHash);
  }
  return [...days.values()]
    .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0))
    .map(({ hashes, ...entry }) => ({ ...entry, txHashes: [...hashes] }));
}

/** A token's earnings per UTC day (scaled by SHARES_PER_SLOT), oldest first, with the running total. */
export function dailyEarnings(ledger: Pick<TokenLedger, "credits">): { day: string; earnedScaled: bigint; cumulativeScaled: bigint; txHashes: Hex[] }[] {
  const days: { day: string; earnedScaled: bigint; cumulativeScaled: bigint; txHashes: Hex[] }[] = [];
  for (const credit of ledger.credits) {
    const day = utcDay(credit.timestamp);
    let last = days[days.length - 1];
    if (last?.day !== day) {
      last = { day, earnedScaled: 0n, cumulativeScaled: 0n, txHashes: [] };
      days.push(last);
    }
    last.earnedScaled += credit.earnedScaled;
    last.cumulativeScaled = credit.cumulativeScaled;
    if (!last.txHashes.includes(credit.txHash)) last.txHashes.push(credit.txHash);
  }
  return days;
}

export interface SlotTotals {
  slot: bigint;
  queries: number;
  gross: bigint;
  net: bigint;
}

export interface ProtocolTotals {
  batches: number;
  /** Query records settled. */
  queriesSettled: bigint;
  /** Settlement items the contract rejected (each with a reason in its SessionRejected event). */
  sessionsRejected: bigint;
  /** Gross paid by users for settled queries and licences bought. */
  totalPaid: bigint;
  /** Protocol fees taken from it. */
  fees: bigint;
  /** Licences to files sold for a price (KipLicences). A free version's licences are not sales: anyone
   * may take one per wallet, so counting them would let a script inflate the figure. */
  licencesSold: number;
  /** Net credited to slots (totalPaid - fees). */
  netToHolders: bigint;
  /** Settlement transactions, newest first. */
  batchTxHashes: Hex[];
  /** Slots by net revenue, highest first. */
  slots: SlotTotals[];
}

/** Protocol-wide figures from BatchSettled (with its settled items' query records), RevenueCredited and LicenceBought events. */
export function protocolTotals(events: readonly ProtocolEvent[]): ProtocolTotals {
  const totals: ProtocolTotals = {
    batches: 0,
    queriesSettled: 0n,
    sessionsRejected: 0n,
    totalPaid: 0n,
    fees: 0n,
    licencesSold: 0,
    netToHolders: 0n,
    batchTxHashes: [],
    slots: [],
  };
  const slots = new Map<bigint, SlotTotals>();
  const slotOf = (slot: bigint) => {
    let entry = slots.get(slot);
    if (!entry) slots.set(slot, (entry = { slot, queries: 0, gross: 0n, net: 0n }));
    return entry;
  };
  for (const event of [...events].sort(compareEvents)) {
    switch (event.name) {
      case "BatchSettled":
        totals.batches += 1;
        totals.sessionsRejected += event.rejected;
        totals.totalPaid += event.gross;
        totals.fees += event.fees;
        totals.batchTxHashes.push(event.txHash);
        for (const item of event.items ?? []) {
          totals.queriesSettled += BigInt(item.records.length);
          for (const record of item.records) {
            for (const charge of record.charges) {
              if (charge.amount === 0n) continue;
              const entry = slotOf(charge.slot);
              entry.queries += 1;
              entry.gross += charge.amount;
            }
          }
        }
        break;
      case "RevenueCredited":
        slotOf(event.slot).net += event.amount;
        totals.netToHolders += event.amount;
        break;
      case "LicenceBought":
        // Paid like query revenue (its net arrives as a RevenueCredited of the same transaction).
        if (event.price === 0n) break;
        totals.licencesSold += 1;
        totals.totalPaid += event.price;
        totals.fees += event.fee;
        slotOf(event.slot).gross += event.price;
        break;
      default:
        break;
    }
  }
  totals.batchTxHashes.reverse();
  totals.slots = [...slots.values()].sort((a, b) => (b.net > a.net ? 1 : b.net < a.net ? -1 : Number(a.slot - b.slot)));
  return totals;
}

/** `value` shares of a slot as a percentage string with up to 4 decimals ("12.5", "0.0001"). */
export function sharePercent(value: bigint): string {
  // value / 1,000,000 * 100 = value / 10,000; keep 4 decimals exactly.
  const whole = value / 10_000n;
  const fraction = (value % 10_000n).toString().padStart(4, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole.toString();
}
