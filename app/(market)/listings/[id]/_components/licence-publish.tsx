"use client";
// The creator's form for selling a dataset's original files or a model's weights: licence terms, a price and
// an upgrade price (the least a wallet that already bought a licence to the listing pays: it pays the price
// less what it paid before, but never below the upgrade price; 0 allowed), the files of the latest
// version to keep and new files to add (each uploaded with tus, resumable). The server stores them encrypted
// and drafts the version; the creator's wallet publishes it with KipLicences.publishVersion, which commits the
// terms' and the file list's hashes on chain; the server publishes the draft once it reads that event.
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { formatUnits, parseUnits } from "viem";
import { Button, ErrorBox, Field, inputClass } from "@/components/ui/form";
import { uploadFile } from "../../../_components/uploads";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { kipLicencesAbi } from "@/lib/chain/generated";
import { publishVersionCall, type LicenceDraftTransaction } from "@/lib/licences/publish";
import { api, fieldErrors } from "../../../_components/api";

type Draft = { id: string; transaction: LicenceDraftTransaction };

export function LicencePublish({
  listingId,
  latest,
  token,
}: {
  listingId: string;
  latest: { version: number; terms: string; files: { id: string; path: string }[] } | null;
  token: { symbol: string };
}) {
  const router = useRouter();
  const config = usePublicConfig();
  const tx = useTransactor();
  const [terms, setTerms] = useState(latest?.terms ?? "");
  const [price, setPrice] = useState("");
  const [upgradePrice, setUpgradePrice] = useState("0");
  const [keep, setKeep] = useState<Set<string>>(new Set(latest?.files.map((f) => f.id) ?? []));
  const [files, setFiles] = useState<File[]>([]);
  const input = useRef<HTMLInputElement>(null);
  // Files picked before the page finished loading are in the input but not yet in the state.
  useEffect(() => {
    if (input.current?.files?.length) setFiles([...input.current.files]);
  }, []);
  const [progress, setProgress] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!config.contracts) return;
    setErrors({});
    setMessage(null);
    setBusy(true);
    try {
      const uploads: { upload: string }[] = [];
      for (const [i, file] of files.entries()) {
        const id = await uploadFile(file, (sent) => setProgress(`Uploading ${file.name} (${i + 1} of ${files.length}): ${Math.floor((sent / Math.max(file.size, 1)) * 100)}%`));
        uploads.push({ upload: id });
      }
      setProgress("Encrypting and hashing the files…");
      const { body: draft } = await api<Draft>(`/api/listings/${listingId}/licences`, {
        method: "POST",
        json: { terms, price: price.trim(), upgradePrice: upgradePrice.trim(), files: [...[...keep].map((id) => ({ file: id })), ...uploads] },
      });
      setProgress(null);
      // The deployment this page was configured with, not whatever address the answer names.
      const receipt = await tx.write({ ...publishVersionCall({ ...draft.transaction, licences: config.contracts.licences }), chainId: config.chainId });
      if (!receipt) return;
      await api(`/api/listings/${listingId}/licences/confirm`, { method: "POST", json: { versionId: draft.id, txHash: receipt.transactionHash } });
      setMessage("Published on chain.");
      setFiles([]);
      if (input.current) input.current.value = "";
      router.refresh();
    } catch (error) {
      const text = (error as Error).message;
      setErrors(fieldErrors(text));
      setMessage(text);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="space-y-4" noValidate aria-label="Publish a licence version">
      <Field id="licence-terms" label="Licence terms" required hint="Shown to buyers; their keccak256 is committed on chain." error={errors.terms}>
        <textarea id="licence-terms" rows={4} className={inputClass} value={terms} onChange={(e) => setTerms(e.target.value)} aria-invalid={Boolean(errors.terms)} />
      </Field>
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        <Field id="licence-price" label={`Price (${token.symbol})`} required hint="One-time, for a buyer without an earlier licence." error={errors.price}>
          <input id="licence-price" className={inputClass} inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} aria-invalid={Boolean(errors.price)} />
        </Field>
        <Field id="licence-upgrade" label={`Upgrade price (${token.symbol})`} hint="The least a wallet that already paid for a licence here pays: it pays the price minus what it paid, but not less than this. At most the price; 0 is allowed." error={errors.upgradePrice}>
          <input id="licence-upgrade" className={inputClass} inputMode="decimal" value={upgradePrice} onChange={(e) => setUpgradePrice(e.target.value)} aria-invalid={Boolean(errors.upgradePrice)} />
        </Field>
      </div>
      {latest ? (
        <fieldset className="space-y-1.5">
          <legend className="text-sm font-medium text-ink">Keep from version {latest.version}</legend>
          {latest.files.map((file) => (
            <label key={file.id} className="flex items-center gap-2 text-sm text-ink">
              <input
                type="checkbox"
                checked={keep.has(file.id)}
                onChange={(e) => setKeep((current) => {
                  const next = new Set(current);
                  if (e.target.checked) next.add(file.id);
                  else next.delete(file.id);
                  return next;
                })}
              />
              <span className="wrap-anywhere">{file.path}</span>
            </label>
          ))}
          <p className="text-xs text-muted">A file left out stays downloadable for buyers of the versions that had it.</p>
        </fieldset>
      ) : null}
      <Field id="licence-files" label="Add files" hint="Original files or weights, up to 200 MB each; stored encrypted." error={errors.files}>
        <input id="licence-files" ref={input} type="file" multiple className="block w-full text-sm" onChange={(e) => setFiles([...(e.target.files ?? [])])} />
      </Field>
      {progress ? <p className="text-sm text-muted" role="status">{progress}</p> : null}
      <TransactionStatus state={tx} minedText="Published on chain." />
      {message && !errors.terms && tx.status !== "failed" && !message.startsWith("Published") ? <ErrorBox>{message}</ErrorBox> : null}
      <Button type="submit" disabled={busy || (!files.length && !keep.size)}>
        {busy ? "Publishing…" : latest ? `Publish version ${latest.version + 1}` : "Publish version 1"}
      </Button>
    </form>
  );
}

/** The creator changes a published version's prices on chain (KipLicences.setVersionPrice); buyers' maximums protect pending purchases. */
export function LicencePrices({
  slot,
  version,
  price,
  upgradePrice,
  token,
}: {
  slot: number;
  version: number;
  price: string;
  upgradePrice: string;
  token: { symbol: string; decimals: number };
}) {
  const router = useRouter();
  const config = usePublicConfig();
  const tx = useTransactor();
  const [newPrice, setNewPrice] = useState(formatUnits(BigInt(price), token.decimals));
  const [newUpgrade, setNewUpgrade] = useState(formatUnits(BigInt(upgradePrice), token.decimals));
  const [problem, setProblem] = useState<string | null>(null);

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    if (!config.contracts) return;
    setProblem(null);
    const amount = new RegExp(`^\\d{1,30}(\\.\\d{1,${token.decimals}})?$`);
    if (!amount.test(newPrice.trim()) || !amount.test(newUpgrade.trim())) {
      setProblem(`Prices are amounts in ${token.symbol} with at most ${token.decimals} decimals, like 12.5.`);
      return;
    }
    const units: [bigint, bigint] = [parseUnits(newPrice.trim(), token.decimals), parseUnits(newUpgrade.trim(), token.decimals)];
    const receipt = await tx.write({ address: config.contracts.licences, abi: kipLicencesAbi, functionName: "setVersionPrice", args: [BigInt(slot), BigInt(version), ...units], chainId: config.chainId });
    if (receipt) router.refresh();
  };

  return (
    <form onSubmit={save} className="space-y-3" noValidate aria-label={`Prices of version ${version}`}>
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        <Field id={`price-${version}`} label={`Price of version ${version} (${token.symbol})`}>
          <input id={`price-${version}`} className={inputClass} inputMode="decimal" value={newPrice} onChange={(e) => setNewPrice(e.target.value)} />
        </Field>
        <Field id={`upgrade-${version}`} label={`Upgrade price (${token.symbol})`}>
          <input id={`upgrade-${version}`} className={inputClass} inputMode="decimal" value={newUpgrade} onChange={(e) => setNewUpgrade(e.target.value)} />
        </Field>
      </div>
      {problem ? <ErrorBox>{problem}</ErrorBox> : null}
      <TransactionStatus state={tx} minedText="Prices changed on chain." />
      <Button type="submit" variant="secondary" disabled={tx.busy}>
        {tx.busy ? "Saving…" : "Change prices"}
      </Button>
    </form>
  );
}
