"use client";
// API keys for using apps from your own code (docs/API.md): create one (its secret is shown once), sign
// its spending session with the wallet (the server can never spend more through it than its total cap),
// watch its usage against its caps (an alert from 80% of a cap on), and revoke it.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { formatUnits, parseUnits, type Hex } from "viem";
import { Card, Notice } from "@/components/ui/card";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { QueryProvider } from "@/components/web3/query-client";
import { useWalletHost } from "@/components/web3/wallet-host";
import type { KeyView } from "@/lib/api/keys";
import { sessionTypes, settlementDomain } from "@/lib/protocol";

async function call<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, body === undefined ? { cache: "no-store" } : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await response.json().catch(() => ({}))) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(json.error?.message ?? `The request failed (${response.status}).`);
  return json;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error);
  return text.split("\n")[0];
}

/** The payment token's symbol and decimals (read on the server with the rest of the dashboard). */
export interface KeyToken {
  symbol: string;
  decimals: number;
}

/** The signed-in wallet's API keys (the dashboard renders it only for a signed-in wallet). */
export function ApiKeys({ token }: { token: KeyToken | null }) {
  return (
    <QueryProvider>
      <ApiKeysPanel token={token} />
    </QueryProvider>
  );
}

function ApiKeysPanel({ token }: { token: KeyToken | null }) {
  const config = usePublicConfig();
  const queryClient = useQueryClient();
  // The wallet code loads only when a session is signed (components/web3/wallet-host.tsx).
  const { loadChain, openWallet } = useWalletHost();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => call<{ keys: KeyView[] }>("/api/keys"), refetchInterval: 10_000 });
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const refresh = () => queryClient.invalidateQueries({ queryKey: ["api-keys"] });

  async function signSession(key: KeyView) {
    if (!config.contracts || !key.session) throw new Error("This key has no spending session to sign.");
    const s = key.session;
    const chain = await loadChain();
    const wagmi = chain.chainConfig(config);
    if (chain.getAccount(wagmi).status !== "connected") {
      openWallet("connect");
      throw new Error("Connect your wallet, then sign the key's spending session.");
    }
    const signature = await chain.signTypedData(wagmi, {
      account: s.payer,
      domain: settlementDomain(config.chainId, config.contracts.settlement),
      types: sessionTypes,
      primaryType: "Session",
      message: { payer: s.payer, key: s.key, operator: s.operator, spendCap: BigInt(s.spendCap), expiry: BigInt(s.expiry), nonce: BigInt(s.nonce) },
    });
    await call(`/api/keys/${key.id}/session`, { signature: signature as Hex });
  }

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!token) return;
    const form = new FormData(event.currentTarget);
    setError(null);
    setBusy("create");
    try {
      const amount = (name: string) => parseUnits(String(form.get(name) ?? "").trim() || "0", token.decimals).toString();
      const days = Number(form.get("days"));
      const allowedApps = String(form.get("apps") ?? "")
        .split(/[\s,]+/)
        .filter(Boolean);
      const created = await call<{ secret: string; key: KeyView }>("/api/keys", {
        name: String(form.get("name") ?? ""),
        dailyCap: amount("daily"),
        monthlyCap: amount("monthly"),
        totalCap: amount("total"),
        expiresAt: Math.floor(Date.now() / 1000 + days * 86_400),
        allowedApps,
      });
      setSecret({ id: created.key.id, secret: created.secret });
      await refresh();
      await signSession(created.key);
      await refresh();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  }

  async function act(id: string, run: () => Promise<unknown>) {
    setError(null);
    setBusy(id);
    try {
      await run();
      await refresh();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(null);
    }
  }

  const fmt = (value: string) => (token ? `${formatUnits(BigInt(value), token.decimals)} ${token.symbol}` : value);

  return (
    <Card title="API keys">
      <p className="text-sm text-muted">
        Call any app from your own code with an OpenAI client: base URL <code className="break-all font-mono">{config.appUrl}/api/v1</code>, the
        app&apos;s id as the model. Each key pays from your prepaid balance through a spending session your wallet signs, limited to the key&apos;s
        total cap.
      </p>
      <form onSubmit={create} className="mt-4 grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3" data-testid="api-key-form">
        <Field id="key-name" label="Name" required>
          <input id="key-name" name="name" required maxLength={60} className={inputClass} placeholder="My script" />
        </Field>
        <Field id="key-days" label="Expires in (days)" required>
          <input id="key-days" name="days" type="number" min={1} max={90} defaultValue={30} required className={inputClass} />
        </Field>
        <Field id="key-daily" label={`Daily cap${token ? ` (${token.symbol})` : ""}`} required>
          <input id="key-daily" name="daily" inputMode="decimal" defaultValue="1" required className={inputClass} />
        </Field>
        <Field id="key-monthly" label={`Monthly cap${token ? ` (${token.symbol})` : ""}`} required>
          <input id="key-monthly" name="monthly" inputMode="decimal" defaultValue="10" required className={inputClass} />
        </Field>
        <Field id="key-total" label={`Total cap${token ? ` (${token.symbol})` : ""}`} required hint="What your wallet's session allows in all.">
          <input id="key-total" name="total" inputMode="decimal" defaultValue="20" required className={inputClass} />
        </Field>
        <Field id="key-apps" label="Allowed apps" hint="App ids, separated by commas; empty: every app.">
          <input id="key-apps" name="apps" className={inputClass} placeholder="every app" />
        </Field>
        <div className="sm:col-span-2 lg:col-span-3">
          <Button type="submit" disabled={!token || busy !== null}>
            {busy === "create" ? "Creating…" : "Create key"}
          </Button>
        </div>
      </form>
      {secret ? (
        <div className="mt-4 space-y-2" data-testid="api-key-secret-box">
          <Notice>Copy this key now: it is shown only once.</Notice>
          <code data-testid="api-key-secret" className="block break-all rounded-lg bg-slate-100 px-3 py-2 font-mono text-sm text-ink">
            {secret.secret}
          </code>
        </div>
      ) : null}
      {error ? (
        <div className="mt-4">
          <ErrorBox testId="api-key-error">{error}</ErrorBox>
        </div>
      ) : null}
      <ul className="mt-6 space-y-3" data-testid="api-key-list">
        {keys.isPending ? <li className="text-sm text-muted">Loading your keys…</li> : null}
        {keys.isError ? <li className="text-sm text-red-700">{errorText(keys.error)}</li> : null}
        {keys.data?.keys.length === 0 ? <li className="text-sm text-muted">No keys yet.</li> : null}
        {keys.data?.keys.map((key) => (
          <li key={key.id} className="min-w-0 rounded-lg border border-line p-4" data-testid="api-key" data-status={key.status}>
            <div className="flex flex-wrap items-baseline justify-between gap-2">
              <p className="min-w-0 font-medium text-ink wrap-anywhere">
                {key.name} <span className="font-mono text-xs text-muted">{key.prefix}…</span>
              </p>
              <span className="text-xs font-medium uppercase text-muted" data-testid="api-key-status">
                {key.status === "pending" ? "waiting for your signature" : key.status}
              </span>
            </div>
            <dl className="mt-2 grid grid-cols-1 gap-x-4 gap-y-1 text-xs text-muted sm:grid-cols-2">
              <div>
                Today: <span className="tabular-nums text-ink">{fmt(key.usage.today)}</span> of {fmt(key.dailyCap)}
              </div>
              <div>
                This month: <span className="tabular-nums text-ink">{fmt(key.usage.month)}</span> of {fmt(key.monthlyCap)}
              </div>
              <div>
                In total: <span className="tabular-nums text-ink">{fmt(key.usage.total)}</span> of {fmt(key.totalCap)}
              </div>
              <div>
                Queries: <span className="tabular-nums text-ink" data-testid="api-key-queries">{key.usage.queries}</span>
              </div>
              <div>Last used: {key.lastUsedAt ? new Date(key.lastUsedAt).toLocaleString() : "never"}</div>
              <div>Expires: {new Date(key.expiresAt * 1000).toLocaleString()}</div>
              <div className="sm:col-span-2 wrap-anywhere">Apps: {key.allowedApps.length ? key.allowedApps.join(", ") : "every app"}</div>
            </dl>
            {key.alerts.length && key.status === "active" ? (
              <div className="mt-2" data-testid="api-key-alert">
                <Notice tone="warning">This key has used 80% or more of its {key.alerts.join(", ")} cap.</Notice>
              </div>
            ) : null}
            <div className="mt-3 flex flex-wrap gap-2">
              {key.status === "pending" ? (
                <Button variant="secondary" disabled={busy !== null} onClick={() => act(key.id, () => signSession(key))}>
                  Sign spending session
                </Button>
              ) : null}
              {key.status === "active" || key.status === "pending" ? (
                <Button variant="danger" disabled={busy !== null} onClick={() => act(key.id, () => call(`/api/keys/${key.id}/revoke`, {}))}>
                  Revoke
                </Button>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
    </Card>
  );
}
