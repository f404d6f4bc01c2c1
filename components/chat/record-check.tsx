"use client";
// "Recorded on chain": the browser's own check of a settled message. It recomputes the record hash from
// the question, the answer, the passages this page shows and their dataset versions, reads the settlement transaction's input
// from the chain (not from this app's server), decodes it, and looks for this payer's record with that
// hash and the charge shown.
import { useQuery } from "@tanstack/react-query";
import { isAddressEqual, type Address, type Hex } from "viem";
import { getTransaction } from "viem/actions";
import { useClient } from "wagmi";
import { decodeSettle, recordHash, type DatasetVersionRef } from "@/lib/protocol";
import { formatAmount, type TokenInfo } from "./format";

export type RecordCheckResult = { found: true; amount: bigint; hash: Hex } | { found: false; hash: Hex };

/** Finds `payer`'s record with hash `hash` in the input of settlement transaction `input`. */
export function findRecord(input: Hex, payer: Address, hash: Hex): { amount: bigint } | null {
  for (const item of decodeSettle(input)) {
    if (!isAddressEqual(item.session.payer, payer)) continue;
    const record = item.records?.find((r) => r.recordHash.toLowerCase() === hash.toLowerCase());
    if (record) return { amount: record.charges.reduce((sum, c) => sum + c.amount, 0n) };
  }
  return null;
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
  const hash = recordHash({ id: messageId, question, answer, passages, datasetVersions });
  const check = useQuery({
    queryKey: ["record-check", chainId, txHash, hash],
    enabled: Boolean(client),
    staleTime: Infinity,
    queryFn: async (): Promise<RecordCheckResult> => {
      const tx = await getTransaction(client!, { hash: txHash });
      const found = findRecord(tx.input, payer, hash);
      return found ? { found: true, amount: found.amount, hash } : { found: false, hash };
    },
  });
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
  return (
    <span className="basis-full text-xs text-red-700" data-testid="record-check" data-state="missing" title={`record ${result.hash}`}>
      {result.found
        ? `The record is on chain but charged ${formatAmount(result.amount, token)}, not the amount shown.`
        : "No record of this message as shown was found in its settlement transaction (a stopped answer shows in full after a reload)."}
    </span>
  );
}
