"use client";
// The creator's tools for a listed dataset's documents: add files and archives (the same resumable
// uploads as a new dataset, then indexed in the background and published as the next version), remove a
// document (a new version at once), and sign the newest version's metadata on chain with
// setMetadata(slot, uri, hash): the server shows it as pending until it reads the slot holding that hash.
import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import type { Hex } from "viem";
import { Button, ErrorBox } from "@/components/ui/form";
import { Progress } from "@/components/ui/progress";
import { QueryProvider } from "@/components/web3/query-client";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { ACCEPTED_EXTENSIONS, ARCHIVE_EXTENSIONS, formatBytes } from "@/lib/rag/limits";
import { checkFile, uploadFile } from "../../../_components/uploads";
import { api } from "../../../_components/api";
import { IndexingProgress, useIndexStatus } from "./indexing-progress";

type Props = {
  listingId: string;
  slot: number;
  metadataUri: string;
  documents: { id: string; filename: string; bytes: number }[];
  /** The version whose metadata waits for the creator's transaction, if any. */
  pending: { version: number; contentHash: string } | null;
};

export function DatasetVersions(props: Props) {
  return (
    <QueryProvider>
      <Tools {...props} />
    </QueryProvider>
  );
}

type Phase = { kind: "idle" } | { kind: "uploading"; sent: number; total: number } | { kind: "indexing"; version: number } | { kind: "error"; message: string };

function Tools({ listingId, slot, metadataUri, documents, pending }: Props) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [refused, setRefused] = useState<{ name: string; message: string }[]>([]);
  const [removing, setRemoving] = useState<string | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);
  const status = useIndexStatus(listingId, phase.kind === "indexing");
  const add = async (event: React.FormEvent) => {
    event.preventDefault();
    setRefused([]);
    // The input itself holds the choice: files picked before the page finished loading count too.
    const files = Array.from(input.current?.files ?? []);
    if (files.length === 0) {
      setPhase({ kind: "error", message: "Choose at least one file or archive to add." });
      return;
    }
    const problems = (await Promise.all(files.map(checkFile))).filter((p): p is string => p !== null);
    if (problems.length) {
      setPhase({ kind: "error", message: problems.join(" ") });
      return;
    }
    const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
    const sent = new Map<string, number>();
    setPhase({ kind: "uploading", sent: 0, total });
    try {
      const ids: string[] = [];
      for (const file of files) {
        ids.push(
          await uploadFile(file, (bytes) => {
            sent.set(file.name, bytes);
            setPhase({ kind: "uploading", sent: [...sent.values()].reduce((a, b) => a + b, 0), total });
          }),
        );
      }
      const { body } = await api<{ refused: { name: string; message: string }[]; version: number }>(`/api/datasets/${listingId}/documents`, {
        method: "POST",
        json: { uploads: ids },
      });
      setRefused(body.refused);
      await queryClient.invalidateQueries({ queryKey: ["dataset-status", listingId] });
      setPhase({ kind: "indexing", version: body.version });
      // Indexed in the background, then published as the new version: wait for it, then reload the
      // page's server parts (versions, documents).
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const { body: versions } = await api<{ current: number }>(`/api/datasets/${listingId}/versions`);
        if (versions.current >= body.version) break;
        const { body: state } = await api<{ status: string; error: string | null }>(`/api/datasets/${listingId}/status`);
        if (state.status === "failed") throw new Error(`Indexing the new documents failed: ${state.error ?? "see the server log"}`);
      }
      setPhase({ kind: "idle" });
      if (input.current) input.current.value = "";
      router.refresh();
    } catch (error) {
      setPhase({ kind: "error", message: (error as Error).message });
    }
  };

  const remove = async (doc: { id: string; filename: string }) => {
    if (!window.confirm(`Remove ${doc.filename}? Its passages will no longer be retrieved; the dataset gets a new version.`)) return;
    setRemoving(doc.id);
    setRemoveError(null);
    try {
      await api(`/api/datasets/${listingId}/documents/${doc.id}`, { method: "DELETE" });
      router.refresh();
    } catch (error) {
      setRemoveError((error as Error).message);
    } finally {
      setRemoving(null);
    }
  };

  const busy = phase.kind === "uploading" || phase.kind === "indexing";
  return (
    <div className="space-y-6" data-testid="dataset-versions-tools">
      {pending ? <SignVersion listingId={listingId} slot={slot} metadataUri={metadataUri} pending={pending} /> : null}

      <div>
        <h3 className="text-sm font-semibold text-ink">Documents in this version</h3>
        {removeError ? <ErrorBox testId="remove-error">{removeError}</ErrorBox> : null}
        <ul className="mt-2 divide-y divide-line text-sm" data-testid="version-documents">
          {documents.map((doc) => (
            <li key={doc.id} className="flex items-center justify-between gap-3 py-2">
              <span className="min-w-0 truncate text-ink" title={doc.filename}>
                {doc.filename} <span className="text-muted">· {formatBytes(doc.bytes)}</span>
              </span>
              <Button
                variant="danger"
                className="shrink-0 px-3 py-1.5"
                onClick={() => void remove(doc)}
                disabled={busy || removing !== null || documents.length <= 1}
                aria-label={`Remove ${doc.filename}`}
              >
                {removing === doc.id ? "Removing…" : "Remove"}
              </Button>
            </li>
          ))}
        </ul>
        {documents.length <= 1 ? <p className="mt-1 text-xs text-muted">A dataset keeps at least one document: add another before removing this one.</p> : null}
      </div>

      <form onSubmit={add} className="space-y-3" noValidate aria-busy={busy}>
        <label htmlFor="add-documents" className="block text-sm font-semibold text-ink">
          Add documents
        </label>
        <p className="text-xs text-muted">
          {ACCEPTED_EXTENSIONS.filter((e) => e !== ".markdown" && e !== ".htm").join(", ")}, or archives of them ({ARCHIVE_EXTENSIONS.join(", ")}). They are
          indexed, then published together as the next version.
        </p>
        <input
          id="add-documents"
          ref={input}
          type="file"
          multiple
          className="block w-full min-w-0 text-sm text-muted file:mr-3 file:rounded-lg file:border-0 file:bg-brand-50 file:px-3 file:py-2 file:text-sm file:font-medium file:text-brand-800"
          disabled={busy}
        />
        {phase.kind === "uploading" ? (
          <Progress label="Uploading" value={phase.sent} max={phase.total} detail={`${formatBytes(phase.sent)} of ${formatBytes(phase.total)}`} testId="add-upload-progress" />
        ) : null}
        {phase.kind === "indexing" ? <IndexingProgress status={status.data} /> : null}
        {phase.kind === "error" ? <ErrorBox testId="add-error">{phase.message}</ErrorBox> : null}
        {refused.length ? (
          <ErrorBox testId="add-refused">
            Not added: {refused.map((r) => r.message).join(" ")}
          </ErrorBox>
        ) : null}
        <Button type="submit" disabled={busy}>
          {phase.kind === "uploading" ? "Uploading…" : phase.kind === "indexing" ? "Indexing…" : "Add to the dataset"}
        </Button>
      </form>
    </div>
  );
}

function SignVersion({ listingId, slot, metadataUri, pending }: { listingId: string; slot: number; metadataUri: string; pending: { version: number; contentHash: string } }) {
  const router = useRouter();
  const config = usePublicConfig();
  const tx = useTransactor();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const sign = async () => {
    if (!config.contracts) return;
    setBusy(true);
    setError(null);
    try {
      const receipt = await tx.write({
        address: config.contracts.assets,
        abi: kipAssetsAbi,
        functionName: "setMetadata",
        args: [BigInt(slot), metadataUri, pending.contentHash as Hex],
        chainId: config.chainId,
      });
      if (!receipt) return;
      await api(`/api/listings/${listingId}/sync`, { method: "POST", json: { txHash: receipt.transactionHash } });
      router.refresh();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="space-y-3 rounded-lg border border-amber-200 bg-amber-50 p-4" data-testid="sign-version">
      <p className="text-sm text-amber-900">
        <span className="font-semibold">Version {pending.version} is pending on chain.</span> Apps already search it; sign its metadata so the slot&apos;s
        content hash names it.
      </p>
      <p className="break-all font-mono text-xs text-amber-900">{pending.contentHash}</p>
      <TransactionStatus state={tx} minedText={`Version ${pending.version} is on chain.`} />
      {error ? <ErrorBox>{error}</ErrorBox> : null}
      <Button onClick={() => void sign()} disabled={busy}>
        {busy ? "Signing…" : `Sign version ${pending.version} on chain`}
      </Button>
    </div>
  );
}
