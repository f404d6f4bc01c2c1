"use client";
// The minting step of a listing: send KipAssets.list(kind, price, uri, contentHash) from the creator's
// wallet, record the hash with the server while it is pending, and let the server confirm the listing
// from the mined AssetListed event. A draft or a failed listing can be retried or discarded.
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

export function ListOnChain({ listing, blockedReason }: { listing: DraftListing; blockedReason?: string | null }) {
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

  const confirm = async (hash: string) => {
    const { body } = await api<Confirmed>(`/api/listings/${listing.id}/confirm`, { method: "POST", json: { txHash: hash } });
    setStatus(body.status);
    setFailure(body.failure);
    setSlotId(body.slotId);
    return body;
  };

  const list = async () => {
    if (!listing.transaction || !config.contracts) return;
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
            <Button onClick={() => { tx.reset(); void list(); }} disabled={busy || Boolean(blockedReason) || !config.contracts || !walletReady} data-testid="list-button">
              {status === "failed" ? "Try listing again" : "List on chain"}
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
