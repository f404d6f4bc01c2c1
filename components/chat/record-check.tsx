"use client";
// "Recorded on chain": the browser's own check of a settled message. It recomputes the record hash from
// the question, the answer, the passages this page shows and their dataset versions, reads the settlement
// transaction and its receipt from the chain (not from this app's server), decodes its input with its
// sender as the sessions' operator, and looks for this payer's record with that hash and the charge shown
// in an item the contract settled (no SessionRejected names it).
import { useQuery } from "@tanstack/react-query";
import { isAddressEqual, type Address, type Hex, type Log } from "viem";
import { getTransaction, getTransactionReceipt } from "viem/actions";
import { useClient } from "wagmi";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { recordHash, settlementOutcome, type DatasetVersionRef } from "@/lib/protocol";
import { formatAmount, type TokenInfo } from "./format";

export type RecordCheckResult =
  | { found: true; amount: bigint; hash: Hex }
  /** `rejected`: why the record is in the transaction but not settled (its item's reject reason, or a revert). */
  | { found: false; hash: Hex; rejected: string | null };

export type RecordLookup = { settled: true; amount: bigint } | { settled: false; rejected: string } | null;

/**
 * Finds `payer`'s record with hash `hash` in a mined transaction to `settlement`: its input read with its
 * sender as operator, and its receipt's SessionRejected logs for the items the contract skipped. Settled
 * with its charge when an item the contract applied holds it; `rejected` when only a skipped item (or a
 * reverted transaction) does; null when no item of this payer holds it, or the transaction is not a
 * settlement of this contract.
 */
export function findRecord(
  tx: { input: Hex; from: Address; to: Address | null },
  receipt: { status: "success" | "reverted"; logs: readonly Pick<Log, "address" | "data" | "topics">[] },
  settlement: Address,
  payer: Address,
  hash: Hex,
): RecordLookup {
  if (!tx.to || !isAddressEqual(tx.to, settlement)) return null;
  let outcome;
  try {
    outcome = settlementOutcome(tx.input, tx.from, settlement, receipt.status === "success" ? receipt.logs : []);
  } catch {
    return null; // not a settle call
  }
  let rejected: string | null = null;
  for (const item of outcome) {
    if (!isAddressEqual(item.session.payer, payer)) continue;
    const record = item.records?.find((r) => r.recordHash.toLowerCase() === hash.toLowerCase());
    if (!record) continue;
    if (receipt.status !== "success") rejected = "the transaction reverted";
    else if (item.rejected !== null) rejected = item.rejected;
    else return { settled: true, amount: record.charges.reduce((sum, c) => sum + c.amount, 0n) };
  }
  return rejected === null ? null : { settled: false, rejected };
}

export function RecordCheck({
  messageId,
  txHash,
  chainId,
  payer,
  question,
  answer,
  passages,
  datasetVersions,
  total,
  token,
}: {
  /** The answer's message id (part of its record). */
  messageId: string;
  txHash: Hex;
  chainId: number;
  payer: Address;
  question: string;
  answer: string;
  passages: string[];
  /** The dataset versions the passages came from (datasetVersionsOf), part of the record. */
  datasetVersions: DatasetVersionRef[];
  total: string | null;
  token: TokenInfo;
}) {
  const client = useClient({ chainId });
  const settlement = usePublicConfig().contracts?.settlement ?? null;
  const hash = recordHash({ id: messageId, question, answer, passages, datasetVersions });
  const check = useQuery({
    queryKey: ["record-check", chainId, settlement, txHash, hash],
    enabled: Boolean(client && settlement),
    staleTime: Infinity,
    queryFn: async (): Promise<RecordCheckResult> => {
      const [tx, receipt] = await Promise.all([getTransaction(client!, { hash: txHash }), getTransactionReceipt(client!, { hash: txHash })]);
      const found = findRecord(tx, receipt, settlement!, payer, hash);
      if (found?.settled) return { found: true, amount: found.amount, hash };
      return { found: false, hash, rejected: found ? found.rejected : null };
    },
  });
  if (!settlement) {
    return (
      <span className="basis-full text-xs text-amber-800" data-testid="record-check" data-state="error">
        This deployment&apos;s settlement contract is not known here, so the record cannot be checked.
      </span>
    );
  }
  if (check.isPending) return <span className="basis-full text-xs text-muted" data-testid="record-check" data-state="checking">Checking the record on chain…</span>;
  if (check.isError) {
    return (
      <span className="basis-full text-xs text-amber-800" data-testid="record-check" data-state="error">
        The chain could not be read to check this record.
      </span>
    );
  }
  const result = check.data;
  const sameAmount = result.found && total !== null && result.amount === BigInt(total);
  if (result.found && sameAmount) {
    return (
      <span className="basis-full text-xs text-emerald-800" data-testid="record-check" data-state="found" title={`record ${result.hash}`}>
        ✓ Recorded on chain: this question, answer and its passages hash to record {result.hash.slice(0, 10)}…, found in the settlement with{" "}
        {formatAmount(result.amount, token)} charged.
      </span>
    );
  }
  if (!result.found && result.rejected !== null) {
    return (
      <span className="basis-full text-xs text-red-700" data-testid="record-check" data-state="rejected" title={`record ${result.hash}`}>
        The record is in its settlement transaction, but the contract did not settle it ({result.rejected}): nothing was charged there.
      </span>
    );
  }
  return (
    <span className="basis-full text-xs text-red-700" data-testid="record-check" data-state="missing" title={`record ${result.hash}`}>
      {result.found
        ? `The record is on chain but charged ${formatAmount(result.amount, token)}, not the amount shown.`
        : "No record of this message as shown was found in its settlement transaction (a stopped answer shows in full after a reload)."}
    </span>
  );
}
