"use client";
// The creator's panel on a draft: indexing progress for datasets, then the listing transaction.
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { QueryProvider } from "@/components/web3/query-client";
import { ListOnChain, type DraftListing } from "../../../_components/list-on-chain";
import { IndexingProgress, useIndexStatus } from "./indexing-progress";

/** `modelId`: the model to probe before listing (the listing's own, or an app's model). */
export function DraftPanel({ listing, modelId }: { listing: DraftListing; modelId?: string | null }) {
  return (
    <QueryProvider>
      <Panel listing={listing} modelId={modelId} />
    </QueryProvider>
  );
}

function Panel({ listing, modelId }: { listing: DraftListing; modelId?: string | null }) {
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
      <ListOnChain listing={listing} blockedReason={blocked} modelId={modelId} />
    </div>
  );
}
