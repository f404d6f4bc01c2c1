"use client";
// Edit a listed asset where the chain holds it: the price with setPrice(slot, price), the description
// with setMetadata(slot, uri, hash of the new metadata JSON). The server prepares the new JSON, and
// applies it (and the price) only once it reads them back from the slot.
import { useRouter } from "next/navigation";
import { useState } from "react";
import { formatUnits, type Hex } from "viem";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { api, fieldErrors } from "../../../_components/api";

type EditPlan = { onChain: { slot: number; setPrice: { price: string } | null; setMetadata: { uri: string; contentHash: Hex } | null } | null };

export function EditListing({
  listingId,
  slot,
  description,
  price,
  token,
}: {
  listingId: string;
  slot: number;
  description: string;
  price: string;
  token: { symbol: string; decimals: number };
}) {
  const router = useRouter();
  const config = usePublicConfig();
  const tx = useTransactor();
  const [newDescription, setNewDescription] = useState(description);
  const [newPrice, setNewPrice] = useState(formatUnits(BigInt(price), token.decimals));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!config.contracts) return;
    setErrors({});
    setMessage(null);
    setBusy(true);
    try {
      const { body } = await api<EditPlan>(`/api/listings/${listingId}`, {
        method: "PATCH",
        json: {
          ...(newDescription.trim() !== description ? { description: newDescription } : {}),
          ...(newPrice.trim() !== formatUnits(BigInt(price), token.decimals) ? { price: newPrice.trim() } : {}),
        },
      });
      const plan = body.onChain;
      let changed = false;
      if (plan?.setPrice) {
        const receipt = await tx.write({ address: config.contracts.assets, abi: kipAssetsAbi, functionName: "setPrice", args: [BigInt(slot), BigInt(plan.setPrice.price)], chainId: config.chainId });
        if (!receipt) return;
        await api(`/api/listings/${listingId}/sync`, { method: "POST", json: { txHash: receipt.transactionHash } });
        changed = true;
      }
      if (plan?.setMetadata) {
        const receipt = await tx.write({
          address: config.contracts.assets,
          abi: kipAssetsAbi,
          functionName: "setMetadata",
          args: [BigInt(slot), plan.setMetadata.uri, plan.setMetadata.contentHash],
          chainId: config.chainId,
        });
        if (!receipt) return;
        await api(`/api/listings/${listingId}/sync`, { method: "POST", json: { txHash: receipt.transactionHash } });
        changed = true;
      }
      setMessage(changed ? "Saved on chain." : "Nothing changed.");
      router.refresh();
    } catch (error) {
      const text = (error as Error).message;
      setErrors(fieldErrors(text));
      setMessage(text);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={save} className="space-y-4" noValidate>
      <Field id="edit-price" label={`Price per query (${token.symbol})`} hint="Changed on chain with setPrice; applies to receipts signed after it." error={errors.price}>
        <input id="edit-price" className={inputClass} inputMode="decimal" value={newPrice} onChange={(e) => setNewPrice(e.target.value)} aria-invalid={Boolean(errors.price)} />
      </Field>
      <Field id="edit-description" label="Description" hint="Part of the metadata: the slot's content hash is updated with setMetadata." error={errors.description}>
        <textarea id="edit-description" rows={3} className={inputClass} value={newDescription} onChange={(e) => setNewDescription(e.target.value)} aria-invalid={Boolean(errors.description)} />
      </Field>
      <TransactionStatus state={tx} minedText="Saved on chain." />
      {message && !Object.keys(errors).length && tx.status !== "failed" ? <p className="text-sm text-muted" role="status">{message}</p> : null}
      {message && Object.keys(errors).length ? <ErrorBox>{message}</ErrorBox> : null}
      <Button type="submit" disabled={busy}>
        {busy ? "Saving…" : "Save changes"}
      </Button>
    </form>
  );
}
