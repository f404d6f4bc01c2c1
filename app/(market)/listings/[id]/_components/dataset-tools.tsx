"use client";
// The dataset owner's tools: download the original files, page through the passages as they were
// chunked, and try a search to see what retrieval finds (with BM25 scores).
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Button, ErrorBox, inputClass } from "@/components/ui/form";
import { QueryProvider } from "@/components/web3/query-client";
import { formatBytes } from "@/lib/rag/limits";
import { api } from "../../../_components/api";

type ChunkPage = { total: number; offset: number; chunks: { id: string; filename: string; position: number; chars: number; text: string }[] };
type SearchResult = { tookMs: number; results: { chunkId: string; filename: string; position: number; score: number; text: string }[] };

const PAGE = 5;

type Props = { listingId: string; documents: { id: string; filename: string; bytes: number }[] };

export function DatasetTools(props: Props) {
  return (
    <QueryProvider>
      <Tools {...props} />
    </QueryProvider>
  );
}

function Tools({ listingId, documents }: Props) {
  const [offset, setOffset] = useState(0);
  const chunks = useQuery({
    queryKey: ["chunks", listingId, offset],
    queryFn: async () => (await api<ChunkPage>(`/api/datasets/${listingId}/chunks?offset=${offset}&limit=${PAGE}`)).body,
  });
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState<{ state: "idle" | "running" } | { state: "done"; result: SearchResult } | { state: "error"; message: string }>({ state: "idle" });

  const runSearch = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!query.trim()) return;
    setSearch({ state: "running" });
    try {
      const { body } = await api<SearchResult>(`/api/datasets/${listingId}/search`, { method: "POST", json: { query, k: 5 } });
      setSearch({ state: "done", result: body });
    } catch (error) {
      setSearch({ state: "error", message: (error as Error).message });
    }
  };

  return (
    <div className="mt-5 space-y-6 border-t border-line pt-5">
      <div>
        <h3 className="text-sm font-semibold text-ink">Your files</h3>
        <p className="text-xs text-muted">Stored encrypted; only you can download them.</p>
        <ul className="mt-2 space-y-1 text-sm">
          {documents.map((doc) => (
            <li key={doc.id} className="flex justify-between gap-3">
              <a className="min-w-0 truncate text-brand-700 underline" href={`/api/datasets/${listingId}/documents/${doc.id}`} download={doc.filename}>
                {doc.filename}
              </a>
              <span className="shrink-0 tabular-nums text-muted">{formatBytes(doc.bytes)}</span>
            </li>
          ))}
        </ul>
      </div>

      <div>
        <h3 className="text-sm font-semibold text-ink">Passages</h3>
        {chunks.isPending ? (
          <p className="mt-2 text-sm text-muted">Loading passages…</p>
        ) : chunks.isError ? (
          <ErrorBox>Could not load the passages: {chunks.error.message}</ErrorBox>
        ) : chunks.data.total === 0 ? (
          <p className="mt-2 text-sm text-muted">No passages yet: indexing has not stored any.</p>
        ) : (
          <>
            <ol className="mt-2 space-y-2" data-testid="chunk-preview">
              {chunks.data.chunks.map((chunk, i) => (
                <li key={chunk.id} className="rounded-lg border border-line bg-slate-50 p-3">
                  <p className="text-xs text-muted wrap-anywhere">
                    #{offset + i + 1} · {chunk.filename}, passage {chunk.position + 1} · {chunk.chars} characters
                  </p>
                  <p className="mt-1 line-clamp-4 whitespace-pre-line text-sm text-ink wrap-anywhere">{chunk.text}</p>
                </li>
              ))}
            </ol>
            <div className="mt-2 flex flex-wrap items-center justify-between gap-2 text-sm">
              <span className="text-muted">
                {offset + 1}–{Math.min(offset + PAGE, chunks.data.total)} of {chunks.data.total.toLocaleString("en")}
              </span>
              <span className="flex gap-2">
                <Button variant="secondary" onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0}>
                  Previous
                </Button>
                <Button variant="secondary" onClick={() => setOffset(offset + PAGE)} disabled={offset + PAGE >= chunks.data.total}>
                  Next
                </Button>
              </span>
            </div>
          </>
        )}
      </div>

      <form onSubmit={runSearch} className="space-y-3">
        <label htmlFor="dataset-search" className="block text-sm font-semibold text-ink">
          Try a search
        </label>
        <div className="flex gap-2">
          <input id="dataset-search" className={`${inputClass} min-w-0`} value={query} onChange={(e) => setQuery(e.target.value)} placeholder="A question a user might ask" />
          <Button type="submit" variant="secondary" disabled={search.state === "running"}>
            Search
          </Button>
        </div>
        {search.state === "error" ? <ErrorBox>{search.message}</ErrorBox> : null}
        {search.state === "done" ? (
          search.result.results.length === 0 ? (
            <p className="text-sm text-muted">No passage matches those words.</p>
          ) : (
            <ol className="space-y-2" data-testid="search-results">
              {search.result.results.map((hit) => (
                <li key={hit.chunkId} className="rounded-lg border border-line p-3">
                  <p className="text-xs text-muted wrap-anywhere">
                    score {hit.score.toFixed(2)} · {hit.filename}, passage {hit.position + 1}
                  </p>
                  <p className="mt-1 line-clamp-3 text-sm text-ink wrap-anywhere">{hit.text}</p>
                </li>
              ))}
              <li className="text-xs text-muted">Searched in {search.result.tookMs} ms.</li>
            </ol>
          )
        ) : null}
      </form>
    </div>
  );
}
