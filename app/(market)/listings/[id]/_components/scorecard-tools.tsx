"use client";
// The dataset owner's scorecard: attach pairs of a question and the document expected to answer it (one
// at a time, or a JSON / CSV file of them), see how the platform's retrieval ranks each expected document,
// and remove a question. The figures are measured on the server, through the chat's own retrieval.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { QueryProvider } from "@/components/web3/query-client";
import { api } from "../../../_components/api";

type QuestionResult = { id: string; question: string; expected: string; rank: number | null; top: string[] };
type Scorecard = { version: number; questions: number; recallAt1: number; recallAt5: number; mrr: number; computedAt: string; results: QuestionResult[] };
type OwnerView = { scorecard: Scorecard | null; questions: { id: string; question: string; expectedDocument: string }[] };

type Props = { listingId: string; documents: string[] };

export function ScorecardTools(props: Props) {
  return (
    <QueryProvider>
      <Tools {...props} />
    </QueryProvider>
  );
}

function Tools({ listingId, documents }: Props) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const view = useQuery({ queryKey: ["scorecard", listingId], queryFn: async () => (await api<OwnerView>(`/api/datasets/${listingId}/scorecard`)).body });
  const [question, setQuestion] = useState("");
  const [document, setDocument] = useState(documents[0] ?? "");
  const [state, setState] = useState<{ kind: "idle" | "saving" } | { kind: "error"; message: string } | { kind: "done"; message: string }>({ kind: "idle" });

  const send = async (body: string, contentType: string) => {
    setState({ kind: "saving" });
    try {
      const { body: result } = await api<{ added: number }>(`/api/datasets/${listingId}/scorecard`, { method: "POST", body, headers: { "content-type": contentType } });
      setState({ kind: "done", message: `${result.added} question${result.added === 1 ? "" : "s"} added and measured.` });
      setQuestion("");
      await queryClient.invalidateQueries({ queryKey: ["scorecard", listingId] });
      router.refresh();
    } catch (error) {
      setState({ kind: "error", message: (error as Error).message });
    }
  };

  const addOne = (event: React.FormEvent) => {
    event.preventDefault();
    if (!question.trim()) {
      setState({ kind: "error", message: "Write the question first." });
      return;
    }
    void send(JSON.stringify({ pairs: [{ question: question.trim(), document }] }), "application/json");
  };

  const upload = async (file: File | undefined) => {
    if (!file) return;
    const csv = /\.csv$/i.test(file.name) || file.type === "text/csv";
    void send(await file.text(), csv ? "text/csv" : "application/json");
  };

  const remove = async (id: string) => {
    setState({ kind: "saving" });
    try {
      await api(`/api/datasets/${listingId}/scorecard/${id}`, { method: "DELETE" });
      setState({ kind: "idle" });
      await queryClient.invalidateQueries({ queryKey: ["scorecard", listingId] });
      router.refresh();
    } catch (error) {
      setState({ kind: "error", message: (error as Error).message });
    }
  };

  const results = view.data?.scorecard?.results ?? [];
  const saving = state.kind === "saving";
  return (
    <div className="mt-5 space-y-5 border-t border-line pt-5" data-testid="scorecard-tools">
      <form onSubmit={addOne} className="space-y-3" noValidate aria-busy={saving}>
        <h3 className="text-sm font-semibold text-ink">Add a question</h3>
        <Field id="scorecard-question" label="Question" hint="Something a user would ask that one document answers.">
          <input id="scorecard-question" className={inputClass} value={question} onChange={(e) => setQuestion(e.target.value)} maxLength={500} />
        </Field>
        <Field id="scorecard-document" label="Expected document">
          <select id="scorecard-document" className={inputClass} value={document} onChange={(e) => setDocument(e.target.value)}>
            {documents.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <div className="flex flex-wrap items-center gap-3">
          <Button type="submit" disabled={saving}>
            {saving ? "Measuring…" : "Add and measure"}
          </Button>
          <label className="cursor-pointer text-sm font-medium text-brand-700 underline">
            Upload pairs (JSON or CSV)
            <input type="file" accept=".json,.csv,application/json,text/csv" className="sr-only" onChange={(e) => void upload(e.target.files?.[0])} disabled={saving} />
          </label>
        </div>
        <p className="text-xs text-muted">
          JSON: <code>[{"{"}&quot;question&quot;: …, &quot;document&quot;: &quot;file name&quot;{"}"}]</code>. CSV: a header row naming <code>question</code> and{" "}
          <code>document</code>.
        </p>
        {state.kind === "error" ? <ErrorBox testId="scorecard-error">{state.message}</ErrorBox> : null}
        {state.kind === "done" ? (
          <p className="text-sm text-emerald-800" role="status">
            {state.message}
          </p>
        ) : null}
      </form>

      <div>
        <h3 className="text-sm font-semibold text-ink">Per question</h3>
        {view.isPending ? (
          <p className="mt-2 text-sm text-muted">Loading the questions…</p>
        ) : view.isError ? (
          <ErrorBox>Could not load the scorecard: {view.error.message}</ErrorBox>
        ) : view.data.questions.length === 0 ? (
          <p className="mt-2 text-sm text-muted">No questions yet.</p>
        ) : (
          <ol className="mt-2 space-y-2" data-testid="scorecard-results">
            {view.data.questions.map((q) => {
              const result = results.find((r) => r.id === q.id);
              return (
                <li key={q.id} className="rounded-lg border border-line p-3 text-sm">
                  <div className="flex items-start justify-between gap-3">
                    <p className="min-w-0 text-ink wrap-anywhere">{q.question}</p>
                    <Button variant="secondary" className="shrink-0 px-3 py-1" onClick={() => void remove(q.id)} disabled={saving} aria-label={`Remove the question ${q.question}`}>
                      Remove
                    </Button>
                  </div>
                  <p className="mt-1 text-xs text-muted wrap-anywhere">
                    expects {q.expectedDocument} ·{" "}
                    <span className={result?.rank === 1 ? "text-emerald-800" : result?.rank ? "text-amber-800" : "text-red-700"} data-testid="scorecard-rank">
                      {result ? (result.rank ? `found at rank ${result.rank}` : "not in the top 10") : "not measured yet"}
                    </span>
                    {result && result.rank !== 1 && result.top.length ? ` · retrieved first: ${result.top[0]}` : ""}
                  </p>
                </li>
              );
            })}
          </ol>
        )}
      </div>
    </div>
  );
}
