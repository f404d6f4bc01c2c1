"use client";
// The minting step of a listing: send KipAssets.list(kind, price, uri, contentHash) from the creator's
// wallet, record the hash with the server while it is pending, and let the server confirm the listing
// from the mined AssetListed event. A draft or a failed listing can be retried or discarded. A model, or an
// app on a model, is probed first: when its endpoint is down the creator is told why and may still go on.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { Hex } from "viem";
import { Button, ErrorBox } from "@/components/ui/form";
import { useSession } from "@/components/web3/session";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { ConnectWalletButton } from "@/components/web3/wallet-button";
import { useWalletAccount } from "@/components/web3/wallet-host";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { healthSummary, type ModelHealthView } from "@/lib/models/health-view";
import { api } from "./api";

export interface DraftListing {
  id: string;
  kind: string;
  name: string;
  status: string;
  slotId: number | null;
  listTxHash: string | null;
  failure: string | null;
  transaction: { kind: number; price: string; uri: string; contentHash: Hex } | null;
}

type Confirmed = { status: "draft" | "pending" | "listed" | "failed"; slotId: number | null; failure: string | null };

export function ListOnChain({ listing, blockedReason, modelId }: { listing: DraftListing; blockedReason?: string | null; modelId?: string | null }) {
  const router = useRouter();
  const config = usePublicConfig();
  const session = useSession();
  // Listing sends a transaction: the wallet code loads with this panel. The session is known at once but
  // the wallet reconnects after load, and a click before would fail with "Connect your wallet first", so
  // the button waits for the connection.
  const { status: walletStatus } = useWalletAccount({ load: true });
  const tx = useTransactor();
  const [status, setStatus] = useState(listing.status);
  const [failure, setFailure] = useState(listing.failure);
  const [slotId, setSlotId] = useState(listing.slotId);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The endpoint health probe run before listing, when it found the model down (the creator decides).
  const [down, setDown] = useState<ModelHealthView | null>(null);
  const [probing, setProbing] = useState(false);

  const confirm = async (hash: string) => {
    const { body } = await api<Confirmed>(`/api/listings/${listing.id}/confirm`, { method: "POST", json: { txHash: hash } });
    setStatus(body.status);
    setFailure(body.failure);
    setSlotId(body.slotId);
    return body;
  };

  /** Probes the model first; lists at once when it is up (or cannot be told), else shows the warning. */
  const checkThenList = async () => {
    setError(null);
    setDown(null);
    if (modelId) {
      setProbing(true);
      const health = await api<ModelHealthView>(`/api/models/${modelId}/health`, { method: "POST" })
        .then((r) => r.body)
        .catch(() => null);
      setProbing(false);
      // The page's own status line shows the new result too.
      router.refresh();
      if (health?.status === "down") {
        setDown(health);
        return;
      }
    }
    await list();
  };

  const list = async () => {
    if (!listing.transaction || !config.contracts) return;
    setDown(null);
    setError(null);
    setBusy(true);
    try {
      const call = listing.transaction;
      let sent: string | null = null;
      const receipt = await tx.write(
        {
          address: config.contracts.assets,
          abi: kipAssetsAbi,
          functionName: "list",
          args: [call.kind, BigInt(call.price), call.uri, call.contentHash],
          chainId: config.chainId,
        },
        // Record the hash while it is pending, so a reload can still confirm it.
        {
          onHash: async (hash) => {
            sent = hash;
            await confirm(hash);
          },
        },
      );
      if (receipt) {
        const body = await confirm(receipt.transactionHash);
        if (body.status === "listed") router.refresh();
      } else if (sent) {
        // Sent but reverted: the server reads the failed receipt itself and marks the draft failed.
        await confirm(sent).catch(() => undefined);
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const checkAgain = async () => {
    if (!listing.listTxHash) return;
    setError(null);
    setBusy(true);
    try {
      const body = await confirm(listing.listTxHash);
      if (body.status === "listed") router.refresh();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const discard = async () => {
    if (!window.confirm(`Discard the draft "${listing.name}"? Its files and settings are deleted.`)) return;
    setBusy(true);
    try {
      await api(`/api/listings/${listing.id}`, { method: "DELETE" });
      router.push("/create");
      router.refresh();
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };

  if (status === "listed") {
    return (
      <div className="space-y-3" data-testid="listing-listed">
        <TransactionStatus state={tx} minedText="Listed on chain." />
        <p className="text-sm text-ink">
          Listed as slot <span className="font-mono font-semibold">#{slotId}</span>.{" "}
          <Link className="font-medium text-brand-700 underline" href={`/listings/${listing.id}`} onClick={() => router.refresh()}>
            View the listing
          </Link>
        </p>
      </div>
    );
  }

  const signedIn = session !== null && walletStatus !== "disconnected";
  const walletReady = walletStatus === "connected";
  return (
    <div className="space-y-4" data-testid="list-on-chain" data-listing-status={status}>
      <p className="text-sm leading-6 text-muted">
        {status === "pending"
          ? "The listing transaction was sent and is not confirmed yet."
          : status === "failed"
            ? "The last listing transaction failed. Nothing was listed; you can try again or discard the draft."
            : "This draft is not on chain yet and nobody else can see it. Listing it mints its slot and all its shares to your wallet in one transaction."}
      </p>
      {failure && status === "failed" ? <ErrorBox>{failure}</ErrorBox> : null}
      {blockedReason ? <p className="text-sm text-amber-800">{blockedReason}</p> : null}
      <TransactionStatus state={tx} minedText="Listing transaction mined." />
      {error ? <ErrorBox testId="list-error">{error}</ErrorBox> : null}
      {down ? (
        <div role="alert" className="space-y-3 rounded-lg border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900 wrap-anywhere" data-testid="list-model-down">
          <p className="font-medium">{listing.kind === "app" ? "This app's model is down right now." : "This model's endpoint is down right now."}</p>
          <p>
            {down.reason ? `${down.reason.charAt(0).toUpperCase()}${down.reason.slice(1)}.` : "It did not answer."} ({healthSummary(down)})
          </p>
          <p>
            {listing.kind === "app"
              ? "Once listed, the app refuses questions (and charges nothing) until the model answers again."
              : "Apps built on it will refuse questions (and charge nothing) until it answers again. Check the base URL, the key and that the server is running, or list it anyway."}
          </p>
          <div className="flex flex-wrap gap-2">
            <Button onClick={() => { tx.reset(); void list(); }} disabled={busy} data-testid="list-anyway">
              List anyway
            </Button>
            <Button variant="secondary" onClick={() => setDown(null)} disabled={busy}>
              Not now
            </Button>
          </div>
        </div>
      ) : null}
      {!signedIn ? (
        <div className="flex flex-wrap items-center gap-3">
          <p className="text-sm text-muted">Sign in with the wallet that created this draft to list it.</p>
          <ConnectWalletButton />
        </div>
      ) : (
        <div className="flex flex-wrap gap-2">
          {status === "pending" ? (
            <Button onClick={checkAgain} disabled={busy}>
              Check the transaction again
            </Button>
          ) : (
            <Button onClick={() => { tx.reset(); void checkThenList(); }} disabled={busy || probing || Boolean(down) || Boolean(blockedReason) || !config.contracts || !walletReady} data-testid="list-button">
              {probing ? "Checking the model…" : status === "failed" ? "Try listing again" : "List on chain"}
            </Button>
          )}
          {status !== "pending" ? (
            <Button variant="danger" onClick={discard} disabled={busy}>
              Discard draft
            </Button>
          ) : null}
        </div>
      )}
    </div>
  );
}
