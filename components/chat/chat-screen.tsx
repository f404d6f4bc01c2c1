"use client";
// The chat page of one app: conversations of the signed-in wallet on the left, the conversation in the
// middle, and (for paid apps) the balance and spending-session panel on the right. Paying signs and sends,
// so this page loads the wallet code (ChainProviders) with it.
// First: zod is configured (no eval probe under the page CSP) before any library builds a schema.
import "@/lib/zod-config";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { generateId } from "ai";
import { useCallback, useState } from "react";
import type { Address } from "viem";
import type { ConversationSummary } from "@/lib/chat/conversations";
import type { ChargeSet, ChatUIMessage } from "@/lib/chat/types";
import { isDown, type ModelHealthView } from "@/lib/models/health-view";
import { HealthBadge, ModelDownNotice } from "@/components/models/health-status";
import { EmptyState } from "@/components/ui/card";
import { ChainProviders } from "@/components/web3/chain";
import { useSession } from "@/components/web3/session";
import { ConnectWalletButton } from "@/components/web3/wallet-button";
import { PaymentPanel } from "@/components/web3/payment-panel";
import { Conversation, type PanelAction } from "./conversation";
import { formatAmount, type TokenInfo } from "./message-view";

export interface ChatAppView {
  id: string;
  name: string;
  description: string;
  model: { id: string; name: string; offline: boolean; health: ModelHealthView };
  datasets: { id: string; name: string }[];
}

type ChatScreenProps = { app: ChatAppView; initialChargeSet: ChargeSet; token: TokenInfo; tokenAddress: Address };

export function ChatScreen(props: ChatScreenProps) {
  return (
    <ChainProviders>
      <Screen {...props} />
    </ChainProviders>
  );
}

function Screen({ app, initialChargeSet, token, tokenAddress }: ChatScreenProps) {
  const session = useSession();
  const queryClient = useQueryClient();
  const [chargeSet, setChargeSet] = useState(initialChargeSet);
  const [active, setActive] = useState<{ id: string; messages: ChatUIMessage[] }>(() => ({ id: generateId(), messages: [] }));
  const [opening, setOpening] = useState<string | null>(null);
  const [openError, setOpenError] = useState<string | null>(null);
  const [highlight, setHighlight] = useState<PanelAction | null>(null);
  const [panelOpen, setPanelOpen] = useState(false);

  // The model's health, re-read while the page is open (the server probes it; this only reads).
  const health = useQuery({
    queryKey: ["model-health", app.model.id],
    enabled: !app.model.offline,
    initialData: app.model.health,
    refetchInterval: 20_000,
    queryFn: async () => {
      const response = await fetch(`/api/models/${app.model.id}/health`, { cache: "no-store" });
      if (!response.ok) throw new Error(`Could not read the model's status (${response.status}).`);
      return (await response.json()) as ModelHealthView;
    },
  }).data;
  const modelDown = isDown(health);

  const conversations = useQuery({
    queryKey: ["chat", "conversations", app.id, session?.address],
    enabled: session !== null,
    queryFn: async () => {
      const response = await fetch(`/api/chat/conversations?appId=${app.id}`, { cache: "no-store" });
      if (!response.ok) throw new Error(`Could not load your conversations (${response.status}).`);
      return ((await response.json()) as { conversations: ConversationSummary[] }).conversations;
    },
  });

  const refreshCharges = useCallback(async () => {
    const response = await fetch(`/api/chat/apps/${app.id}`, { cache: "no-store" }).catch(() => null);
    if (!response?.ok) return null;
    const next = ((await response.json()) as { chargeSet: ChargeSet }).chargeSet;
    setChargeSet(next);
    return next;
  }, [app.id]);

  async function open(id: string) {
    setOpening(id);
    setOpenError(null);
    try {
      const response = await fetch(`/api/chat/conversations/${id}`, { cache: "no-store" });
      if (!response.ok) throw new Error(response.status === 404 ? "This conversation no longer exists." : `Could not open it (${response.status}).`);
      const body = (await response.json()) as { messages: ChatUIMessage[] };
      setActive({ id, messages: body.messages });
    } catch (error) {
      setOpenError(error instanceof Error ? error.message : String(error));
    } finally {
      setOpening(null);
    }
  }

  async function remove(id: string) {
    if (!window.confirm("Delete this conversation? Its payments stay recorded.")) return;
    const response = await fetch(`/api/chat/conversations/${id}`, { method: "DELETE" });
    if (!response.ok && response.status !== 404) {
      setOpenError(`Could not delete it (${response.status}).`);
      return;
    }
    if (active.id === id) setActive({ id: generateId(), messages: [] });
    await queryClient.invalidateQueries({ queryKey: ["chat", "conversations", app.id] });
  }

  function need(action: PanelAction) {
    setHighlight(action);
    setPanelOpen(true);
    requestAnimationFrame(() => document.getElementById(action)?.scrollIntoView({ behavior: "smooth", block: "center" }));
  }

  const header = (
    <div className="flex flex-wrap items-start justify-between gap-3 border-b border-line pb-4">
      <div className="min-w-0">
        <h1 className="text-xl font-semibold tracking-tight text-ink wrap-anywhere sm:text-2xl">{app.name}</h1>
        <p className="mt-1 text-sm text-muted wrap-anywhere">{app.description}</p>
        <p className="mt-2 flex flex-wrap gap-2 text-xs text-muted">
          <span className="max-w-full rounded-full border border-line bg-white px-2 py-0.5 wrap-anywhere">
            Model: {app.model.name}
            {app.model.offline ? " (extractive: quotes its sources, generates nothing)" : ""}
          </span>
          <span className="max-w-full rounded-full border border-line bg-white px-2 py-0.5">
            <HealthBadge health={health} />
          </span>
          {app.datasets.map((d) => (
            <span key={d.id} className="max-w-full truncate rounded-full border border-line bg-white px-2 py-0.5" title={d.name}>
              {d.name}
            </span>
          ))}
        </p>
      </div>
      <div className="min-w-0 text-sm sm:text-right">
        <p className="font-semibold text-ink" data-testid="app-price">
          {chargeSet.free ? "Free" : `Up to ${formatAmount(chargeSet.maxTotal, token)} / message`}
        </p>
        {!chargeSet.free ? (
          <p className="mt-1 text-xs text-muted wrap-anywhere">
            {chargeSet.slots.map((s) => `${s.role === "dataset" ? s.name : s.role} ${formatAmount(s.price, token)}`).join(" · ")}
          </p>
        ) : null}
      </div>
    </div>
  );

  const downNotice = <ModelDownNotice modelName={app.model.name} health={health} />;

  if (!session) {
    return (
      <div className="space-y-6">
        {header}
        {downNotice}
        <EmptyState title="Sign in to chat" action={<ConnectWalletButton />}>
          Conversations belong to your wallet. Connect it and sign the sign-in message (free, no transaction).
          {!chargeSet.free ? " Paid messages come out of a prepaid balance you deposit once." : ""}
        </EmptyState>
      </div>
    );
  }

  const scope = { payer: session.address, chainId: chargeSet.chainId, settlement: chargeSet.settlement as Address, operator: chargeSet.operator as Address };
  return (
    <div className="space-y-4">
      {header}
      {downNotice}
      {/* grid-cols-1 is minmax(0, 1fr): an implicit column would grow to its widest content (a long
          conversation title), pushing the page and the Send button past a phone's edge. */}
      <div className="grid grid-cols-1 gap-4 lg:grid-cols-[220px_minmax(0,1fr)_300px]">
        <aside aria-label="Conversations" className="order-2 min-w-0 lg:order-1">
          <button
            type="button"
            onClick={() => setActive({ id: generateId(), messages: [] })}
            className="w-full rounded-md border border-line bg-white px-3 py-2 text-sm font-medium hover:bg-slate-50"
          >
            + New conversation
          </button>
          <div className="mt-3 space-y-1" data-testid="conversation-list">
            {conversations.isPending ? <p className="px-1 text-xs text-muted">Loading…</p> : null}
            {conversations.isError ? <p className="px-1 text-xs text-red-700">{conversations.error.message}</p> : null}
            {conversations.data?.length === 0 ? <p className="px-1 text-xs text-muted">No conversations yet.</p> : null}
            {conversations.data?.map((c) => (
              <div key={c.id} className={`group flex min-w-0 items-center rounded-md ${c.id === active.id ? "bg-brand-50" : "hover:bg-slate-100"}`}>
                <button type="button" onClick={() => void open(c.id)} title={c.title} className="min-w-0 flex-1 truncate px-2 py-1.5 text-left text-sm" aria-current={c.id === active.id || undefined}>
                  {opening === c.id ? "Opening… " : ""}
                  {c.title}
                </button>
                <button type="button" onClick={() => void remove(c.id)} className="shrink-0 px-2 text-xs text-muted opacity-60 hover:text-red-700 group-hover:opacity-100" aria-label={`Delete “${c.title}”`}>
                  ✕
                </button>
              </div>
            ))}
            {openError ? <p role="alert" className="px-1 text-xs text-red-700 wrap-anywhere">{openError}</p> : null}
          </div>
        </aside>

        <section aria-label="Conversation" className="order-1 flex min-h-[60vh] min-w-0 flex-col lg:order-2">
          <Conversation
            key={active.id}
            appId={app.id}
            conversationId={active.id}
            initialMessages={active.messages}
            chargeSet={chargeSet}
            scope={scope}
            token={token}
            onNeed={need}
            onActivity={() => void queryClient.invalidateQueries({ queryKey: ["chat", "conversations", app.id] })}
            onChargesChanged={refreshCharges}
            modelDown={modelDown}
          />
        </section>

        {!chargeSet.free ? (
          <aside aria-label="Payment" className="order-3 min-w-0">
            <button type="button" className="mb-2 w-full rounded-md border border-line bg-white px-3 py-2 text-sm lg:hidden" aria-expanded={panelOpen} onClick={() => setPanelOpen((o) => !o)}>
              {panelOpen ? "Hide balance" : "Balance and spending session"}
            </button>
            <div className={panelOpen ? "block" : "hidden lg:block"}>
              <PaymentPanel scope={scope} token={tokenAddress} messagePrice={BigInt(chargeSet.maxTotal)} highlight={highlight} warning={modelDown ? `The model “${app.model.name}” is down: questions are refused (and not charged) until it is back, so there is no need to deposit or authorize spending for now.` : null} />
            </div>
          </aside>
        ) : null}
      </div>
    </div>
  );
}
