"use client";
// The wallet's asset tokens and their earnings, as the server read them from the chain (the page
// re-renders on every new block); claim one token or all of them.
import Link from "next/link";
import { useRouter } from "next/navigation";
import type { Address } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { formatAmount } from "@/lib/chain/format";
import type { HoldingsReport } from "@/lib/chain/reports";
import { EmptyState } from "@/components/ui/card";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";
import { Figure, KindBadge } from "./figure";
import { TokenCard } from "./token-card";

export function Holdings({ report: data, assets }: { report: HoldingsReport; assets: Address }) {
  const router = useRouter();
  const claimAll = useTransactor();
  // A transaction changes the chain: read every figure of the page again (tokens and wallet balance).
  const refresh = () => router.refresh();
  const display = data.token;
  const claimable = data.tokens.filter((token) => token.claimable !== "0");

  async function onClaimAll() {
    const receipt = await claimAll.write({ address: assets, abi: kipAssetsAbi, functionName: "claimMany", args: [claimable.map((token) => BigInt(token.tokenId))] });
    if (receipt) refresh();
  }

  return (
    <div className="space-y-6">
      <section aria-labelledby="earnings-heading" className="rounded-xl border border-line bg-white p-5 shadow-sm">
        <div className="flex flex-wrap items-start justify-between gap-4">
          <div className="min-w-0">
            <h2 id="earnings-heading" className="text-sm font-semibold uppercase tracking-wide text-muted">
              Your earnings
            </h2>
            <p className="mt-1 text-xs text-muted">Read from the chain at block {data.headBlock.toLocaleString("en-US")}; refreshed on every new block.</p>
          </div>
          <button
            type="button"
            onClick={onClaimAll}
            disabled={claimAll.busy || claimable.length === 0}
            className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-brand-800 disabled:cursor-not-allowed disabled:opacity-50"
          >
            {claimable.length > 1 ? `Claim all (${claimable.length} tokens)` : "Claim all"}
          </button>
        </div>
        <dl className="mt-4 grid grid-cols-2 gap-4 md:grid-cols-4">
          <Figure label="Claimable now" value={formatAmount(data.totals.claimable, display)} testId="total-claimable" />
          <Figure label="Total earned" value={formatAmount(data.totals.totalEarned, display)} testId="total-earned" />
          <Figure label="Already claimed" value={formatAmount(data.totals.claimed, display)} />
          <Figure label="Asset tokens" value={data.tokens.length} testId="token-count" />
        </dl>
        <div className="mt-3">
          <TransactionStatus state={claimAll} minedText="Claimed: the payment was sent to your wallet." shownBlock={data.headBlock} />
        </div>
      </section>

      {data.created.length > 0 ? (
        <section aria-labelledby="created-heading">
          <h2 id="created-heading" className="mb-2 text-sm font-semibold uppercase tracking-wide text-muted">
            Your listings
          </h2>
          <ul className="flex flex-wrap gap-2">
            {data.created.map((asset) => (
              <li key={asset.slot} className="min-w-0 max-w-full">
                <Link href={`/dashboard/listings/${asset.slot}`} className="flex min-w-0 items-center gap-2 rounded-lg border border-line bg-white px-3 py-2 text-sm shadow-sm hover:bg-slate-50">
                  <KindBadge kind={asset.kind} />
                  <span className="min-w-0 truncate font-medium text-ink" title={asset.name}>
                    {asset.name}
                  </span>
                  <span className="shrink-0 text-xs text-muted">creator view →</span>
                </Link>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section aria-labelledby="tokens-heading" className="space-y-4">
        <h2 id="tokens-heading" className="text-sm font-semibold uppercase tracking-wide text-muted">
          Asset tokens you hold
        </h2>
        {data.tokens.length === 0 ? (
          <EmptyState title="No asset tokens in this wallet yet" action={<Link href="/create" className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white">List an asset</Link>}>
            Listing a dataset, model or app mints its revenue shares to you; someone can also send you shares of theirs. Tokens appear here as soon
            as the transaction is mined.
          </EmptyState>
        ) : (
          data.tokens.map((token) => <TokenCard key={token.tokenId} token={token} owner={data.owner} assets={assets} display={display} headBlock={data.headBlock} onChanged={refresh} />)
        )}
      </section>
    </div>
  );
}
