"use client";
// The licence section of a dataset's or model's page: each published version's terms, price in token units
// and files (path, size, SHA-256). A signed-in buyer buys a version on chain (approve, then
// KipLicences.buy with the most they accept paying), then downloads each file. Every download is checked in
// the browser: the file's bytes must hash (SHA-256) to the listed hash, and the listed files must hash to
// the commitment this browser reads from the chain itself (KipLicences.versionOf), not from the server; a
// file that fails either check is not saved. Before a purchase the browser reads the version's price and
// commitments from the chain too: it buys only the terms and files shown, at most at the price shown.
import { useRouter } from "next/navigation";
import { useState } from "react";
import { createPublicClient, erc20Abi, formatUnits, http, type Address, type Hex } from "viem";
import { Button, ErrorBox } from "@/components/ui/form";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { kipLicencesAbi } from "@/lib/chain/generated";
import { licenceFilesHash, licenceTermsHash, sha256OfBytes } from "@/lib/licences/hash";

export interface OfferVersion {
  version: number | null;
  terms: string;
  termsHash: Hex;
  filesHash: Hex;
  files: { id: string; path: string; size: number; sha256: string }[];
  chain: { price: string; upgradePrice: string; termsHash: Hex; filesHash: Hex };
  viewer: { licensed: boolean; price: string; upgrade: boolean } | null;
}

type Check = { state: "working"; text: string } | { state: "passed" | "failed"; text: string };

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function LicenceOffer({
  listingId,
  slot,
  versions,
  token,
  buyer,
  isCreator,
}: {
  listingId: string;
  slot: number;
  versions: OfferVersion[];
  token: { symbol: string; decimals: number };
  /** The signed-in wallet, or null. */
  buyer: Address | null;
  isCreator: boolean;
}) {
  const amount = (units: string) => `${formatUnits(BigInt(units), token.decimals)} ${token.symbol}`;
  return (
    <div className="space-y-6" data-testid="licence-offer">
      {versions.map((v, i) => (
        <LicenceVersion key={v.version} listingId={listingId} slot={slot} v={v} latest={i === 0} amount={amount} buyer={buyer} isCreator={isCreator} />
      ))}
    </div>
  );
}

function LicenceVersion({
  listingId,
  slot,
  v,
  latest,
  amount,
  buyer,
  isCreator,
}: {
  listingId: string;
  slot: number;
  v: OfferVersion;
  latest: boolean;
  amount: (units: string) => string;
  buyer: Address | null;
  isCreator: boolean;
}) {
  const router = useRouter();
  const config = usePublicConfig();
  const approve = useTransactor();
  const buy = useTransactor();
  const [checks, setChecks] = useState<Record<string, Check>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const version = v.version!;
  const licensed = Boolean(v.viewer?.licensed) || isCreator;
  const termsMatch = licenceTermsHash(v.terms) === v.chain.termsHash.toLowerCase();

  const purchase = async () => {
    const contracts = config.contracts;
    if (!contracts || !v.viewer || !buyer) return;
    setProblem(null);
    // What this page shows came from the server: check it against the chain before paying.
    const shownPrice = BigInt(v.viewer.price);
    let price: bigint;
    try {
      const client = createPublicClient({ transport: http(config.rpcUrl) });
      const args = [BigInt(slot), BigInt(version)] as const;
      const [committed, [quoted]] = await Promise.all([
        client.readContract({ address: contracts.licences as Address, abi: kipLicencesAbi, functionName: "versionOf", args }),
        client.readContract({ address: contracts.licences as Address, abi: kipLicencesAbi, functionName: "priceOf", args: [...args, buyer] }),
      ]);
      const mismatch = purchaseMismatch(v, committed, quoted, shownPrice, amount);
      if (mismatch) {
        setProblem(mismatch);
        return;
      }
      price = quoted;
    } catch (error) {
      setProblem(`The chain could not be read to check this version before buying: ${(error as Error).message.split("\n")[0]}`);
      return;
    }
    if (price > 0n) {
      const approved = await approve.write({ address: contracts.paymentToken, abi: erc20Abi, functionName: "approve", args: [contracts.licences, price], chainId: config.chainId });
      if (!approved) return;
    }
    // The most this buyer accepts is the price this page showed: a price raised meanwhile makes the
    // purchase revert (PriceAboveMax) instead of taking more.
    const receipt = await buy.write({ address: contracts.licences, abi: kipLicencesAbi, functionName: "buy", args: [BigInt(slot), BigInt(version), price], chainId: config.chainId });
    if (receipt) router.refresh();
  };

  const download = async (file: OfferVersion["files"][number]) => {
    const contracts = config.contracts;
    if (!contracts) return;
    setChecks((c) => ({ ...c, [file.id]: { state: "working", text: "Downloading…" } }));
    try {
      const response = await fetch(`/api/listings/${listingId}/licences/${version}/files/${file.id}`, { cache: "no-store" });
      if (!response.ok) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `The server answered ${response.status}.`);
      }
      const bytes = await response.arrayBuffer();
      setChecks((c) => ({ ...c, [file.id]: { state: "working", text: "Checking against the chain…" } }));
      const client = createPublicClient({ transport: http(config.rpcUrl) });
      const committed = await client.readContract({ address: contracts.licences as Address, abi: kipLicencesAbi, functionName: "versionOf", args: [BigInt(slot), BigInt(version)] });
      const digest = await sha256OfBytes(bytes);
      const listMatches = licenceFilesHash(v.files) === committed.filesHash.toLowerCase();
      const fileMatches = digest === file.sha256.toLowerCase() && bytes.byteLength === file.size;
      const passed = listMatches && fileMatches;
      setChecks((c) => ({
        ...c,
        [file.id]: {
          state: passed ? "passed" : "failed",
          text: passed
            ? `Check passed: SHA-256 ${digest} of the ${formatBytes(bytes.byteLength)} downloaded matches the file list committed on chain for version ${version}.`
            : !fileMatches
              ? `Check FAILED: the downloaded bytes hash to ${digest}, not the listed ${file.sha256}.`
              : `Check FAILED: the listed files do not hash to the commitment on chain (${committed.filesHash}).`,
        },
      }));
      // Only bytes that passed both checks reach the browser's downloads.
      if (!passed) return;
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = file.path.split("/").pop() ?? file.path;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      setChecks((c) => ({ ...c, [file.id]: { state: "failed", text: `Download failed: ${(error as Error).message}` } }));
    }
  };

  return (
    <section className="space-y-3 rounded-lg border border-line p-4" aria-label={`Licence, version ${version}`} data-testid={`licence-version-${version}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h3 className="text-base font-semibold text-ink">
          Version {version}
          {latest ? <span className="ml-2 rounded-full bg-brand-50 px-2 py-0.5 text-xs font-medium text-brand-700">latest</span> : null}
        </h3>
        <p className="text-sm text-ink" data-testid="licence-price">
          {v.viewer?.upgrade ? (
            <>
              Upgrade: <span className="font-semibold tabular-nums">{amount(v.viewer.price)}</span>
              <span className="text-muted"> (new buyers {amount(v.chain.price)})</span>
            </>
          ) : (
            <span className="font-semibold tabular-nums">{amount(v.chain.price)}</span>
          )}
        </p>
      </div>
      {v.chain.upgradePrice !== v.chain.price && !v.viewer?.upgrade ? (
        <p className="text-xs text-muted" data-testid="licence-upgrade-rule">
          A wallet that already bought a licence to this listing pays this price less what it paid before, and at least {amount(v.chain.upgradePrice)}.
        </p>
      ) : v.viewer?.upgrade ? (
        <p className="text-xs text-muted" data-testid="licence-upgrade-rule">
          Your earlier licences to this listing count towards the price: you pay {amount(v.chain.price)} less what you paid before, and at least{" "}
          {amount(v.chain.upgradePrice)}.
        </p>
      ) : null}
      <details className="rounded-lg bg-slate-50 p-3 text-sm">
        <summary className="cursor-pointer font-medium text-ink">Licence terms</summary>
        <p className="mt-2 whitespace-pre-wrap text-muted wrap-anywhere" data-testid="licence-terms">
          {v.terms}
        </p>
        <p className="mt-2 break-all font-mono text-xs text-muted">
          keccak256 {v.chain.termsHash} {termsMatch ? "(matches the terms above)" : "(does NOT match the terms above)"}
        </p>
      </details>
      <ul className="divide-y divide-line text-sm" aria-label="Files">
        {v.files.map((file) => {
          const check = checks[file.id];
          return (
            <li key={file.id} className="space-y-1 py-2">
              <div className="flex flex-wrap items-center justify-between gap-2">
                <span className="min-w-0 font-medium text-ink wrap-anywhere">{file.path}</span>
                <span className="shrink-0 tabular-nums text-muted">{formatBytes(file.size)}</span>
              </div>
              <p className="break-all font-mono text-xs text-muted">sha256 {file.sha256}</p>
              {licensed ? (
                <Button variant="secondary" onClick={() => void download(file)} disabled={check?.state === "working"} aria-label={`Download and check ${file.path}`}>
                  {check?.state === "working" ? check.text : "Download and check"}
                </Button>
              ) : null}
              {check && check.state !== "working" ? (
                <p role="status" data-testid="hash-check" data-state={check.state} className={`text-xs wrap-anywhere ${check.state === "passed" ? "text-emerald-700" : "text-red-700"}`}>
                  {check.state === "passed" ? "✓ " : "✗ "}
                  {check.text}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
      <p className="break-all font-mono text-xs text-muted">Files commitment on chain: {v.chain.filesHash}</p>
      {licensed ? (
        <p className="text-sm font-medium text-emerald-700" data-testid="licence-held">
          {isCreator && !v.viewer?.licensed ? "Your listing: you can download its files." : `You hold a licence to version ${version}.`}
        </p>
      ) : buyer && v.viewer ? (
        <div className="space-y-2">
          <Button onClick={() => void purchase()} disabled={approve.busy || buy.busy}>
            {approve.busy || buy.busy ? "Buying…" : `Buy version ${version} for ${amount(v.viewer.price)}`}
          </Button>
          {/* The approval's status until the purchase itself is under way. */}
          <TransactionStatus state={buy.status === "idle" && approve.status !== "idle" ? approve : buy} minedText={buy.status === "idle" ? "Payment approved." : "Licence bought."} />
          {problem ? <ErrorBox testId="licence-problem">{problem}</ErrorBox> : null}
        </div>
      ) : (
        <p className="text-sm text-muted">Sign in with your wallet to buy a licence.</p>
      )}
    </section>
  );
}

/**
 * Why the version read from the chain is not what the page offers (null when it is): other terms or files
 * than those shown, or a price above the one shown. A lower price is fine: the buyer pays the chain's.
 */
export function purchaseMismatch(
  v: Pick<OfferVersion, "terms" | "files" | "version">,
  committed: { termsHash: Hex; filesHash: Hex },
  quoted: bigint,
  shownPrice: bigint,
  amount: (units: string) => string,
): string | null {
  if (licenceTermsHash(v.terms) !== committed.termsHash.toLowerCase()) {
    return `Not bought: the terms shown do not hash to the terms committed on chain for version ${v.version} (${committed.termsHash}).`;
  }
  if (licenceFilesHash(v.files) !== committed.filesHash.toLowerCase()) {
    return `Not bought: the files listed do not hash to the file list committed on chain for version ${v.version} (${committed.filesHash}).`;
  }
  if (quoted > shownPrice) {
    return `Not bought: the price on chain is now ${amount(quoted.toString())}, more than the ${amount(shownPrice.toString())} shown. Reload the page to see the new price.`;
  }
  return null;
}
