"use client";
// App listing: system prompt (private), one model and one or more datasets picked from the marketplace
// with their prices, top-k, and the app's own price; the total a user pays per query updates as you pick.
// Each model shows its endpoint's health; picking one that is down asks the creator to confirm.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMemo, useState } from "react";
import { formatUnits, parseUnits } from "viem";
import { EmptyState } from "@/components/ui/card";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { HealthBadge } from "@/components/models/health-status";
import { MAX_APP_DATASETS, MAX_TOP_K } from "@/lib/listings/schemas";
import { isDown, type ModelHealthView } from "@/lib/models/health-view";
import { api, fieldErrors } from "../../../_components/api";
import { CommonFields, EMPTY_COMMON, checkCommon, type CommonValues, type TokenDisplay } from "../../_components/common-fields";
import { SignInGate } from "../../_components/sign-in-gate";

export type Component = {
  id: string;
  name: string;
  description: string;
  price: string;
  creator: string;
  slotId: number | null;
  detail: string;
  ready: boolean;
  /** Models: the endpoint's health at its last probe. */
  health?: ModelHealthView;
};

function safeUnits(value: string, decimals: number): bigint | null {
  try {
    return /^\d{1,9}(\.\d+)?$/.test(value.trim()) ? parseUnits(value.trim(), decimals) : null;
  } catch {
    return null;
  }
}

export function AppForm({
  token,
  models,
  datasets,
  initialModel,
  initialDatasets,
}: {
  token: TokenDisplay;
  models: Component[];
  datasets: Component[];
  initialModel?: string;
  initialDatasets: string[];
}) {
  const router = useRouter();
  const [common, setCommon] = useState<CommonValues>(EMPTY_COMMON);
  const [systemPrompt, setSystemPrompt] = useState("");
  const [modelId, setModelId] = useState(models.some((m) => m.id === initialModel) ? initialModel! : "");
  const [datasetIds, setDatasetIds] = useState<string[]>(initialDatasets.filter((id) => datasets.some((d) => d.id === id)));
  const [topK, setTopK] = useState("4");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);
  // The model the creator confirmed building on although it is down.
  const [acceptedDown, setAcceptedDown] = useState<string | null>(null);

  const format = (units: bigint) => `${formatUnits(units, token.decimals)} ${token.symbol}`;
  const totals = useMemo(() => {
    const app = safeUnits(common.price, token.decimals);
    const model = models.find((m) => m.id === modelId);
    const picked = datasets.filter((d) => datasetIds.includes(d.id));
    const modelPrice = model ? BigInt(model.price) : 0n;
    const datasetsPrice = picked.reduce((sum, d) => sum + BigInt(d.price), 0n);
    return { app, modelPrice, datasetsPrice, total: app === null ? null : app + modelPrice + datasetsPrice, model, picked };
  }, [common.price, token.decimals, models, modelId, datasets, datasetIds]);

  if (models.length === 0 || datasets.length === 0) {
    return (
      <EmptyState
        title={models.length === 0 ? "No model is listed yet" : "No dataset is listed yet"}
        action={
          <Link href={models.length === 0 ? "/create/model" : "/create/dataset"} className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white">
            {models.length === 0 ? "List a model" : "List a dataset"}
          </Link>
        }
      >
        An app needs one listed model and at least one listed dataset.
      </EmptyState>
    );
  }

  const toggleDataset = (id: string) =>
    setDatasetIds((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : ids.length >= MAX_APP_DATASETS ? ids : [...ids, id]));

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const found = checkCommon(common, token);
    if (systemPrompt.trim().length < 10) found.systemPrompt = "must be at least 10 characters";
    if (!modelId) found.modelId = "pick a model";
    if (datasetIds.length === 0) found.datasetIds = "pick at least one dataset";
    const k = Number(topK);
    if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) found.topK = `must be a whole number from 1 to ${MAX_TOP_K}`;
    setErrors(found);
    if (Object.keys(found).length) return;
    if (isDown(totals.model?.health) && acceptedDown !== modelId) {
      setSubmitError(null);
      setAcceptedDown(null);
      document.getElementById("model-down-warning")?.scrollIntoView({ behavior: "smooth", block: "center" });
      return;
    }
    setSubmitting(true);
    setSubmitError(null);
    try {
      const { body } = await api<{ id: string }>("/api/apps", { method: "POST", json: { ...common, systemPrompt, modelId, datasetIds, topK: k } });
      router.push(`/listings/${body.id}`);
    } catch (error) {
      setErrors(fieldErrors((error as Error).message));
      setSubmitError((error as Error).message);
      setSubmitting(false);
    }
  };

  return (
    <SignInGate what="an app">
      <form onSubmit={submit} className="grid grid-cols-1 gap-8 lg:grid-cols-[minmax(0,1fr)_18rem]" noValidate>
        <div className="min-w-0 space-y-8">
          <section className="space-y-5 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
            <h2 className="text-base font-semibold text-ink">Listing</h2>
            <CommonFields values={common} onChange={setCommon} errors={errors} token={token} kind="app" />
            <Field id="systemPrompt" label="System prompt" required hint="Private: only you and the server that runs the app see it. It is not in the on-chain metadata." error={errors.systemPrompt}>
              <textarea id="systemPrompt" rows={5} className={inputClass} value={systemPrompt} onChange={(e) => setSystemPrompt(e.target.value)} maxLength={8000} aria-invalid={Boolean(errors.systemPrompt)} />
            </Field>
          </section>

          <fieldset className="space-y-3 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
            <legend className="sr-only">Model</legend>
            <h2 className="text-base font-semibold text-ink" aria-hidden>
              Model
            </h2>
            {errors.modelId ? <p className="text-xs text-red-700">{errors.modelId}</p> : null}
            <ul className="grid grid-cols-1 gap-2 sm:grid-cols-2">
              {models.map((model) => (
                <li key={model.id}>
                  <label className={`flex h-full cursor-pointer gap-3 rounded-lg border p-3 ${modelId === model.id ? "border-brand-600 bg-brand-50" : "border-line hover:bg-slate-50"}`}>
                    <input type="radio" name="model" value={model.id} checked={modelId === model.id} onChange={() => setModelId(model.id)} className="mt-1 accent-brand-700" />
                    <span className="min-w-0">
                      <span className="block text-sm font-medium text-ink wrap-anywhere">{model.name}</span>
                      <span className="block text-xs text-muted">
                        {model.detail} · slot #{model.slotId} · {format(BigInt(model.price))} per query
                      </span>
                      {model.health ? <HealthBadge health={model.health} className="mt-1 text-xs text-muted" /> : null}
                    </span>
                  </label>
                </li>
              ))}
            </ul>
            {totals.model?.health && isDown(totals.model.health) ? (
              <div id="model-down-warning" role="alert" className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900 wrap-anywhere" data-testid="app-model-down">
                <p className="font-medium">“{totals.model.name}” is down right now.</p>
                <p>
                  {totals.model.health.reason ? `${totals.model.health.reason.charAt(0).toUpperCase()}${totals.model.health.reason.slice(1)}. ` : ""}
                  An app on it refuses questions (and charges nothing) until the model answers again.
                </p>
                <label className="flex items-center gap-2">
                  <input type="checkbox" checked={acceptedDown === modelId} onChange={(e) => setAcceptedDown(e.target.checked ? modelId : null)} className="accent-brand-700" data-testid="accept-model-down" />
                  Build on it anyway
                </label>
              </div>
            ) : null}
          </fieldset>

          <fieldset className="space-y-3 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
            <legend className="sr-only">Datasets</legend>
            <h2 className="text-base font-semibold text-ink" aria-hidden>
              Datasets <span className="text-sm font-normal text-muted">(1 to {MAX_APP_DATASETS})</span>
            </h2>
            {errors.datasetIds ? <p className="text-xs text-red-700">{errors.datasetIds}</p> : null}
            <ul className="grid grid-cols-1 gap-2 sm:grid-cols-2">
              {datasets.map((dataset) => (
                <li key={dataset.id}>
                  <label className={`flex h-full gap-3 rounded-lg border p-3 ${dataset.ready ? "cursor-pointer" : "opacity-60"} ${datasetIds.includes(dataset.id) ? "border-brand-600 bg-brand-50" : "border-line hover:bg-slate-50"}`}>
                    <input
                      type="checkbox"
                      name="datasets"
                      value={dataset.id}
                      checked={datasetIds.includes(dataset.id)}
                      onChange={() => toggleDataset(dataset.id)}
                      disabled={!dataset.ready}
                      className="mt-1 accent-brand-700"
                    />
                    <span className="min-w-0">
                      <span className="block text-sm font-medium text-ink wrap-anywhere">{dataset.name}</span>
                      <span className="block text-xs text-muted">
                        {dataset.ready ? dataset.detail : "still indexing"} · slot #{dataset.slotId} · {format(BigInt(dataset.price))} per query
                      </span>
                    </span>
                  </label>
                </li>
              ))}
            </ul>
            <div className="max-w-xs pt-2">
              <Field id="topK" label="Passages retrieved per query (top-k)" hint={`1 to ${MAX_TOP_K}, across all the app's datasets.`} error={errors.topK}>
                <input id="topK" type="number" min={1} max={MAX_TOP_K} className={inputClass} value={topK} onChange={(e) => setTopK(e.target.value)} aria-invalid={Boolean(errors.topK)} />
              </Field>
            </div>
          </fieldset>
        </div>

        <aside className="min-w-0 lg:sticky lg:top-24 lg:self-start">
          <div className="space-y-4 rounded-xl border border-line bg-white p-5 shadow-sm" data-testid="price-summary">
            <h2 className="text-sm font-semibold uppercase tracking-wide text-muted">A user pays per query</h2>
            <dl className="space-y-2 text-sm">
              <div className="flex justify-between gap-2">
                <dt className="text-muted">This app</dt>
                <dd className="tabular-nums text-ink">{totals.app === null ? "—" : format(totals.app)}</dd>
              </div>
              <div className="flex justify-between gap-2">
                <dt className="text-muted">Model</dt>
                <dd className="tabular-nums text-ink">{totals.model ? format(totals.modelPrice) : "—"}</dd>
              </div>
              {totals.picked.map((d) => (
                <div key={d.id} className="flex justify-between gap-2">
                  <dt className="min-w-0 truncate text-muted" title={d.name}>
                    {d.name}
                  </dt>
                  <dd className="whitespace-nowrap tabular-nums text-ink">{format(BigInt(d.price))}</dd>
                </div>
              ))}
              <div className="flex justify-between gap-2 border-t border-line pt-2 font-semibold">
                <dt>At most</dt>
                <dd className="tabular-nums" data-testid="total-per-query">
                  {totals.total === null ? "—" : format(totals.total)}
                </dd>
              </div>
            </dl>
            <p className="text-xs leading-5 text-muted">The app and the model are paid on every query; a dataset for each query in which its passages are relevant enough to go into the model&rsquo;s context.</p>
            {submitError ? <ErrorBox testId="submit-error">{submitError}</ErrorBox> : null}
            {isDown(totals.model?.health) && acceptedDown !== modelId ? (
              <p className="text-xs text-amber-800">The model you picked is down: confirm under it that you want to build on it anyway.</p>
            ) : null}
            <Button type="submit" className="w-full" disabled={submitting} data-testid="create-app">
              {submitting ? "Creating…" : "Create draft"}
            </Button>
          </div>
        </aside>
      </form>
    </SignInGate>
  );
}
