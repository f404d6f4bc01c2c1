"use client";
// A dataset's indexing progress, polled from the server (the job runs there, so a reload picks it up).
import { useQuery } from "@tanstack/react-query";
import { Progress } from "@/components/ui/progress";
import { ErrorBox } from "@/components/ui/form";
import { formatBytes } from "@/lib/rag/limits";
import { api } from "../../../_components/api";

export type IndexStatus = { status: string; bytesTotal: number; bytesIndexed: number; chunkCount: number; documents: number; error: string | null };

export function useIndexStatus(listingId: string, enabled = true) {
  return useQuery({
    queryKey: ["dataset-status", listingId],
    queryFn: async () => (await api<IndexStatus>(`/api/datasets/${listingId}/status`)).body,
    enabled,
    refetchInterval: (query) => (query.state.data?.status === "indexing" || !query.state.data ? 1000 : false),
  });
}

export function IndexingProgress({ status }: { status: IndexStatus | undefined }) {
  if (!status) return <Progress label="Reading indexing progress…" testId="indexing-progress" />;
  if (status.status === "failed") return <ErrorBox testId="indexing-error">Indexing failed: {status.error ?? "see the server log"}</ErrorBox>;
  const ready = status.status === "ready";
  return (
    <Progress
      label={ready ? "Indexed" : "Indexing"}
      value={status.bytesIndexed}
      max={status.bytesTotal || 1}
      detail={`${formatBytes(status.bytesIndexed)} of ${formatBytes(status.bytesTotal)} · ${status.chunkCount.toLocaleString("en")} passages`}
      testId={ready ? "indexing-done" : "indexing-progress"}
    />
  );
}
