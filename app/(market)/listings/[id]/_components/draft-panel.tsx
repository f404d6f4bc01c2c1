"use client";
// The creator's panel on a draft: indexing progress for datasets, then the listing transaction.
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { QueryProvider } from "@/components/web3/query-client";
import { ListOnChain, type DraftListing } from "../../../_components/list-on-chain";
import { IndexingProgress, useIndexStatus } from "./indexing-progress";

export function DraftPanel({ listing }: { listing: DraftListing }) {
  return (
    <QueryProvider>
      <Panel listing={listing} />
    </QueryProvider>
  );
}

function Panel({ listing }: { listing: DraftListing }) {
  const router = useRouter();
  const isDataset = listing.kind === "dataset";
  const status = useIndexStatus(listing.id, isDataset);
  const indexState = status.data?.status;
  // Once indexing finishes, re-render the page so its passage count and tools are current.
  useEffect(() => {
    if (indexState === "ready") router.refresh();
  }, [indexState, router]);
  const blocked = isDataset
    ? indexState === "ready"
      ? null
      : indexState === "failed"
        ? "Indexing failed: discard this draft and upload again."
        : "The dataset can be listed once indexing is done."
    : null;
  return (
    <div className="space-y-5">
      {isDataset ? <IndexingProgress status={status.data} /> : null}
      <ListOnChain listing={listing} blockedReason={blocked} />
    </div>
  );
}
