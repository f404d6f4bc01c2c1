// What a payer can still spend with this operator, and where their account's vouchers stand: the account
// on chain (balance, settled seq, cumulative charged total) and the withdrawal they requested, together
// with their receipts not yet settled.
//
// Nothing is counted twice or missed, whenever a settlement lands. The receipts are read first, then the
// chain at one block B. Only this operator moves the account's seq, and a settlement that reaches seq s
// pays every query up to s that will ever be paid. So an open receipt with seq <= seq(B) is already in
// B's balance (its settlement landed in between), and one above it is not: what is still to be paid is the
// open receipts above seq(B), exactly.
import { getAddress, type Address, type Hex } from "viem";
import { kipSettlementAbi } from "@/lib/chain/generated";
import type { ChainContext } from "./charges";
import { shortError } from "./charges";
import { ChatError } from "./errors";
import { accountReceipts, type AccountKey, type AccountReceipts, type DbOrTx } from "./store";

/** A payer's account with this operator on chain, and the withdrawal they requested from it. */
export interface AccountOnChain {
  balance: bigint;
  /** The requested withdrawal's amount (0: none); it stays spendable until withdrawn, but is not counted. */
  withdrawal: bigint;
  /** The seq of the newest voucher settled. */
  seq: bigint;
  /** The account's cumulative charged total. */
  charged: bigint;
}

/** The account of `payer` with this operator at `blockNumber` (else the newest block). */
export async function accountOnChain(chain: ChainContext, payer: Address, blockNumber?: bigint): Promise<AccountOnChain> {
  try {
    const [account, withdrawal] = await Promise.all([
      chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "accountOf", args: [payer, chain.operator], blockNumber }),
      chain.client.readContract({ address: chain.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [payer, chain.operator], blockNumber }),
    ]);
    return { balance: account.balance, withdrawal: withdrawal.amount, seq: BigInt(account.seq), charged: account.charged };
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

/** The account as admission and the chat page see it (see the top of this file). */
export interface AccountView {
  /** What the next voucher builds on: the newest seq and cumulative maximum, here or on chain. */
  position: { seq: bigint; cumulativeMax: bigint };
  /** What the account's receipts not yet on chain hold. */
  pending: bigint;
  /** What can still be spent: balance, less the requested withdrawal, less `pending`. */
  headroom: bigint;
  /** What counts against a session's spend cap (the account's total, as the contract checks it): charged on chain plus `pending`. */
  committed: bigint;
}

/** Combines the receipts (read first) with the chain (read after them). */
export function accountView(receipts: AccountReceipts, onChain: AccountOnChain): AccountView {
  const pending = receipts.open.reduce((sum, r) => (r.seq > onChain.seq ? sum + r.held : sum), 0n);
  const latest = receipts.latest;
  return {
    position: {
      seq: latest && latest.seq > onChain.seq ? latest.seq : onChain.seq,
      cumulativeMax: latest && latest.cumulativeMax > onChain.charged ? latest.cumulativeMax : onChain.charged,
    },
    pending,
    headroom: onChain.balance - onChain.withdrawal - pending,
    committed: onChain.charged + pending,
  };
}

/** The account key of `payer` on this chain's deployment and operator. */
export function accountKey(chain: Pick<ChainContext, "chainId" | "settlement" | "operator">, payer: Address): AccountKey {
  return { chainId: chain.chainId, settlement: chain.settlement, operator: chain.operator, payer: getAddress(payer) };
}

/** The payer's account now: its receipts, then the chain. */
export async function readAccount(db: DbOrTx, chain: ChainContext, payer: Address): Promise<AccountView> {
  const receipts = await accountReceipts(db, accountKey(chain, payer));
  return accountView(receipts, await accountOnChain(chain, getAddress(payer)));
}

/** What the payer can spend now, with nothing counted twice. */
export async function exactHeadroom(db: DbOrTx, chain: ChainContext, payer: Address): Promise<bigint> {
  return (await readAccount(db, chain, payer)).headroom;
}
