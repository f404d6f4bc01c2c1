"use client";
// Model listing: the endpoint (or the offline model), a real "Test connection", and the listing fields.
// The API key goes to the server once, is encrypted there, and is never sent back.
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { api, fieldErrors } from "../../../_components/api";
import { CommonFields, EMPTY_COMMON, checkCommon, type CommonValues, type TokenDisplay } from "../../_components/common-fields";
import { SignInGate } from "../../_components/sign-in-gate";
import { ConnectionResultView, type ConnectionResult } from "./connection-result";

type Provider = "openai-compatible" | "offline";

export function ModelForm({ token }: { token: TokenDisplay }) {
  const router = useRouter();
  const [provider, setProvider] = useState<Provider>("openai-compatible");
  const [endpoint, setEndpoint] = useState({ baseUrl: "", modelName: "", apiKey: "", embeddingsModel: "" });
  const [common, setCommon] = useState<CommonValues>(EMPTY_COMMON);
  // Optional token prices (whole tokens per 1,000 tokens), charged on top of the price per query.
  const [tokenPrices, setTokenPrices] = useState({ pricePerKInput: "", pricePerKOutput: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [test, setTest] = useState<{ state: "idle" | "running" } | { state: "ok"; result: ConnectionResult } | { state: "error"; message: string }>({ state: "idle" });
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState<string | null>(null);

  const setField = (key: keyof typeof endpoint) => (e: React.ChangeEvent<HTMLInputElement>) => {
    setEndpoint({ ...endpoint, [key]: e.target.value });
    setTest({ state: "idle" });
  };

  const checkEndpoint = (): Record<string, string> => {
    if (provider === "offline") return {};
    const found: Record<string, string> = {};
    try {
      const url = new URL(endpoint.baseUrl);
      if (url.protocol !== "http:" && url.protocol !== "https:") found.baseUrl = "must be an http(s) URL";
    } catch {
      found.baseUrl = "must be an http(s) URL such as https://api.example.com/v1";
    }
    if (!endpoint.modelName.trim()) found.modelName = "is required";
    return found;
  };

  const runTest = async () => {
    const found = checkEndpoint();
    setErrors(found);
    if (Object.keys(found).length) return;
    setTest({ state: "running" });
    try {
      const body =
        provider === "offline"
          ? { provider }
          : { provider, baseUrl: endpoint.baseUrl.trim(), modelName: endpoint.modelName.trim(), apiKey: endpoint.apiKey.trim() || undefined };
      const { body: result } = await api<ConnectionResult>("/api/models/test", { method: "POST", json: body });
      setTest({ state: "ok", result });
    } catch (error) {
      setErrors(fieldErrors((error as Error).message));
      setTest({ state: "error", message: (error as Error).message });
    }
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const found: Record<string, string> = { ...checkEndpoint(), ...checkCommon(common, token) };
    for (const [key, value] of Object.entries(tokenPrices)) {
      if (value.trim() && !/^\d{1,9}(\.\d{1,18})?$/.test(value.trim())) found[key] = "must be a decimal number such as 0.0005, or empty";
    }
    setErrors(found);
    if (Object.keys(found).length) return;
    setSubmitting(true);
    setSubmitError(null);
    try {
      const { body } = await api<{ id: string }>("/api/models", {
        method: "POST",
        json: {
          ...common,
          provider,
          pricePerKInput: tokenPrices.pricePerKInput.trim() || undefined,
          pricePerKOutput: tokenPrices.pricePerKOutput.trim() || undefined,
          ...(provider === "offline"
            ? {}
            : {
                baseUrl: endpoint.baseUrl.trim(),
                modelName: endpoint.modelName.trim(),
                apiKey: endpoint.apiKey.trim() || undefined,
                embeddingsModel: endpoint.embeddingsModel.trim() || undefined,
              }),
        },
      });
      router.push(`/listings/${body.id}`);
    } catch (error) {
      setErrors(fieldErrors((error as Error).message));
      setSubmitError((error as Error).message);
      setSubmitting(false);
    }
  };

  return (
    <SignInGate what="a model">
      <form onSubmit={submit} className="space-y-8" noValidate>
        <section className="space-y-5 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
          <fieldset>
            <legend className="text-base font-semibold text-ink">Model</legend>
            <div className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2">
              {(
                [
                  ["openai-compatible", "OpenAI-compatible endpoint", "Any server that speaks /v1/chat/completions: hosted APIs, vLLM, llama.cpp, Ollama."],
                  ["offline", "Built-in offline model", "Answers by quoting the best-matching retrieved passages. No weights, no network, no key."],
                ] as const
              ).map(([value, title, text]) => (
                <label
                  key={value}
                  className={`flex cursor-pointer gap-3 rounded-lg border p-4 ${provider === value ? "border-brand-600 bg-brand-50" : "border-line hover:bg-slate-50"}`}
                >
                  <input
                    type="radio"
                    name="provider"
                    value={value}
                    checked={provider === value}
                    onChange={() => {
                      setProvider(value);
                      setTest({ state: "idle" });
                    }}
                    className="mt-1 accent-brand-700"
                  />
                  <span>
                    <span className="block text-sm font-medium text-ink">{title}</span>
                    <span className="mt-1 block text-xs leading-5 text-muted">{text}</span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          {provider === "openai-compatible" ? (
            <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
              <div className="sm:col-span-2">
                <Field id="baseUrl" label="Base URL" hint="Up to and including /v1, e.g. https://api.example.com/v1. The server sends requests to {base URL}/chat/completions." error={errors.baseUrl}>
                  <input id="baseUrl" className={inputClass} value={endpoint.baseUrl} onChange={setField("baseUrl")} placeholder="https://api.example.com/v1" inputMode="url" aria-invalid={Boolean(errors.baseUrl)} />
                </Field>
              </div>
              <Field id="modelName" label="Model id" hint="As the endpoint names it, e.g. gpt-4o-mini or llama3.1:8b." error={errors.modelName}>
                <input id="modelName" className={inputClass} value={endpoint.modelName} onChange={setField("modelName")} aria-invalid={Boolean(errors.modelName)} />
              </Field>
              <Field id="apiKey" label="API key (optional)" hint="Encrypted on the server (AES-256-GCM); never shown again, never sent to a browser." error={errors.apiKey}>
                <input id="apiKey" type="password" autoComplete="off" className={inputClass} value={endpoint.apiKey} onChange={setField("apiKey")} />
              </Field>
              <Field id="embeddingsModel" label="Embeddings model (optional)" hint="An embeddings model at the same endpoint, if it has one." error={errors.embeddingsModel}>
                <input id="embeddingsModel" className={inputClass} value={endpoint.embeddingsModel} onChange={setField("embeddingsModel")} />
              </Field>
            </div>
          ) : null}
          <div className="space-y-3">
            <Button variant="secondary" onClick={runTest} disabled={test.state === "running"} data-testid="test-connection">
              {test.state === "running" ? "Testing…" : "Test connection"}
            </Button>
            {test.state === "ok" ? <ConnectionResultView result={test.result} /> : null}
            {test.state === "error" ? <ErrorBox testId="test-error">{test.message}</ErrorBox> : null}
          </div>
        </section>

        <section className="space-y-5 rounded-xl border border-line bg-white p-5 shadow-sm sm:p-6">
          <h2 className="text-base font-semibold text-ink">Listing</h2>
          <CommonFields values={common} onChange={setCommon} errors={errors} token={token} kind="model" />
          <div className="grid grid-cols-1 gap-5 sm:grid-cols-2">
            {(
              [
                ["pricePerKInput", "Price per 1,000 input tokens (optional)", "Charged for the prompt: the question, the passages and the history."],
                ["pricePerKOutput", "Price per 1,000 output tokens (optional)", "Charged for the answer, up to 1,024 tokens per message."],
              ] as const
            ).map(([key, label, hint]) => (
              <Field key={key} id={key} label={`${label} · ${token.symbol}`} hint={`${hint} On top of the price per query; empty means 0.`} error={errors[key]}>
                <input
                  id={key}
                  className={inputClass}
                  inputMode="decimal"
                  placeholder="0"
                  value={tokenPrices[key]}
                  onChange={(e) => setTokenPrices({ ...tokenPrices, [key]: e.target.value })}
                  aria-invalid={Boolean(errors[key])}
                />
              </Field>
            ))}
          </div>
        </section>

        {submitError ? <ErrorBox testId="submit-error">{submitError}</ErrorBox> : null}
        <div className="flex justify-end">
          <Button type="submit" disabled={submitting} data-testid="create-model">
            {submitting ? "Creating…" : "Create draft"}
          </Button>
        </div>
      </form>
    </SignInGate>
  );
}
