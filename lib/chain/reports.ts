// What the earnings API answers (app/api/earnings/*) and the dashboards render. Amounts are decimal strings
// of the payment token's base units (JSON has no bigint); `...Scaled` amounts are additionally multiplied
// by SHARES_PER_SLOT (1,000,000), so sub-unit earnings are exact. Browser-safe: types and helpers only.
import type { Address, Hex } from "viem";
import type { AssetKindName } from "@/lib/chain/earnings";

export type Units = string;

export interface PaymentTokenInfo {
  address: Address;
  symbol: string;
  decimals: number;
}

export interface QueryRow {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  payer: Address;
  /** The query's record hash (binds its question, answer and passages). */
  recordHash: Hex;
  /** Gross amount charged to the asset by this query. */
  amount: Units;
}

export interface EarningPoint {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  /** Net credited to the whole slot by that settlement. */
  slotAmount: Units;
  earnedScaled: Units;
  cumulativeScaled: Units;
}

export interface ClaimRow {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  owner: Address;
  amount: Units;
}

export interface AssetSummary {
  slot: string;
  kind: AssetKindName;
  name: string;
  /** Where the name came from: the marketplace listing, the slot's metadata URI, or neither. */
  nameSource: "listing" | "metadata" | "none";
  listingId: string | null;
  creator: Address;
  active: boolean;
  pricePerQuery: Units;
  /** Net revenue ever credited to the slot (KipAssets.slotInfo). */
  revenue: Units;
  uri: string;
}

export interface TokenReport {
  tokenId: string;
  asset: AssetSummary;
  /** Shares held (of 1,000,000 per slot) and the same as a percentage. */
  shares: string;
  sharePercent: string;
  /** KipAssets.claimable(tokenId). */
  claimable: Units;
  /** Sum of RevenueClaimed for this token. */
  claimed: Units;
  /** claimed + claimable. */
  totalEarned: Units;
  /** Queries that paid this asset (all holders' queries, not only this token's). */
  queriesServed: number;
  /** Whether the replay of the logs gives exactly the chain's balanceOf and claimable. */
  matchesChain: boolean;
  earnings: EarningPoint[];
  claims: ClaimRow[];
  /** Newest first, at most RECENT_QUERIES. */
  recentQueries: QueryRow[];
  /** Transactions that moved value into or out of this token (mint, splits, merges). */
  valueTxHashes: Hex[];
}

export interface HoldingsReport {
  owner: Address;
  token: PaymentTokenInfo;
  headBlock: number;
  tokens: TokenReport[];
  totals: { claimable: Units; totalEarned: Units; claimed: Units };
  /** Slots this wallet listed (the creator views). */
  created: AssetSummary[];
}

export interface DailyRow {
  day: string;
  queries: number;
  gross: Units;
  net: Units;
  txHashes: Hex[];
}

export interface HolderRow {
  tokenId: string;
  owner: Address;
  shares: string;
  sharePercent: string;
  claimable: Units;
}

export interface PriceChange {
  blockNumber: number;
  timestamp: number;
  txHash: Hex;
  price: Units;
}

export interface RelatedListing {
  listingId: string;
  slot: string | null;
  kind: AssetKindName;
  name: string;
}

export interface SlotReport {
  asset: AssetSummary;
  description: string | null;
  token: PaymentTokenInfo;
  headBlock: number;
  queries: number;
  gross: Units;
  daily: DailyRow[];
  recentQueries: QueryRow[];
  holders: HolderRow[];
  priceHistory: PriceChange[];
  /** Apps that use this dataset or model (from the marketplace's listings). */
  usedBy: RelatedListing[];
  /** For an app: its model and datasets. */
  uses: RelatedListing[];
}

export interface ProtocolReport {
  token: PaymentTokenInfo;
  headBlock: number;
  feeBps: number;
  batches: number;
  queriesSettled: string;
  sessionsRejected: string;
  totalPaid: Units;
  fees: Units;
  netToHolders: Units;
  /** Fees accrued and not yet withdrawn to the treasury (KipSettlement.feesAccrued + KipLicences.feesAccrued). */
  feesAccrued: Units;
  /** Licences to files bought (KipLicences.LicenceBought); their prices are in totalPaid and fees. */
  licencesSold: number;
  /** Prepaid balances held for users (KipSettlement.totalDeposits). */
  totalDeposits: Units;
  batchTxHashes: Hex[];
  topAssets: (AssetSummary & { queries: number; gross: Units; net: Units })[];
}

export const RECENT_QUERIES = 20;
