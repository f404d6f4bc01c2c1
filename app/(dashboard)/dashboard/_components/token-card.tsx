"use client";
// One asset token the wallet holds: shares, claimable, total earned, queries served, earnings over time,
// recent settled queries; claim and share transfers.
import Link from "next/link";
import { useState } from "react";
import type { Address } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { formatAmount, formatShares, type TokenDisplay } from "@/lib/chain/format";
import type { TokenReport } from "@/lib/chain/reports";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { TxSources } from "@/components/web3/tx-link";
import { useTransactor } from "@/components/web3/use-transactor";
import { EarningsChart } from "./earnings-chart";
import { Figure, KindBadge } from "./figure";
import { QueriesTable } from "./queries-table";
import { ShareTransfer } from "./share-transfer";

/** `headBlock`: the block the report was read at; transaction messages wait for figures at least that new. */
export function TokenCard({
  token,
  owner,
  assets,
  display,
  headBlock,
  onChanged,
}: {
  token: TokenReport;
  owner: Address;
  assets: Address;
  display: TokenDisplay;
  headBlock: number;
  onChanged: () => void;
}) {
  const claim = useTransactor();
  const [showTransfer, setShowTransfer] = useState(false);
  const creditHashes = [...new Set(token.earnings.map((point) => point.txHash))].reverse();
  const claimHashes = token.claims.map((row) => row.txHash);
  const isCreator = token.asset.creator === owner;

  async function onClaim() {
    const receipt = await claim.write({ address: assets, abi: kipAssetsAbi, functionName: "claim", args: [BigInt(token.tokenId)] });
    if (receipt) onChanged();
  }

  return (
    <article className="rounded-xl border border-line bg-white shadow-sm" data-testid={`token-${token.tokenId}`} aria-labelledby={`token-${token.tokenId}-name`}>
      <header className="flex flex-wrap items-start justify-between gap-3 border-b border-line px-5 py-4">
        <div className="min-w-0">
          <div className="flex min-w-0 flex-wrap items-center gap-2">
            <KindBadge kind={token.asset.kind} />
            <h3 id={`token-${token.tokenId}-name`} className="min-w-0 max-w-full truncate text-base font-semibold text-ink" title={token.asset.name}>
              {token.asset.name}
            </h3>
          </div>
          <p className="mt-1 text-xs text-muted">
            Token #{token.tokenId} · slot {token.asset.slot}
            {token.asset.active ? "" : " · listing inactive"}
            {isCreator ? (
              <>
                {" · "}
                <Link href={`/dashboard/listings/${token.asset.slot}`} className="text-brand-700 underline underline-offset-2">
                  creator view
                </Link>
              </>
            ) : null}
          </p>
        </div>
        <div className="flex flex-wrap gap-2">
          <button
            type="button"
            onClick={onClaim}
            disabled={claim.busy || token.claimable === "0"}
            className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-brand-800 disabled:cursor-not-allowed disabled:opacity-50"
          >
            Claim {formatAmount(token.claimable, display)}
          </button>
          <button
            type="button"
            onClick={() => setShowTransfer((open) => !open)}
            aria-expanded={showTransfer}
            className="rounded-lg border border-line bg-white px-4 py-2 text-sm font-medium text-ink hover:bg-slate-50"
          >
            Transfer shares
          </button>
        </div>
      </header>

      <div className="space-y-5 px-5 py-4">
        <TransactionStatus state={claim} minedText="Claimed: the payment was sent to your wallet." shownBlock={headBlock} />
        <dl className="grid grid-cols-2 gap-4 lg:grid-cols-4">
          <Figure label="Shares held" value={<>{formatShares(token.shares)} <span className="text-sm font-normal text-muted">({token.sharePercent} %)</span></>} sources={<TxSources hashes={token.valueTxHashes} />} testId="token-shares" />
          <Figure label="Claimable now" value={formatAmount(token.claimable, display)} sources={<TxSources hashes={creditHashes} label="credits" />} testId="token-claimable" />
          <Figure label="Total earned" value={formatAmount(token.totalEarned, display)} sources={<TxSources hashes={[...creditHashes, ...claimHashes]} />} testId="token-earned" />
          <Figure label="Queries served" value={token.queriesServed.toLocaleString("en-US")} sources={<TxSources hashes={[...new Set(token.recentQueries.map((q) => q.txHash))]} label="settlements" />} testId="token-queries" />
        </dl>
        {!token.matchesChain ? (
          <p role="status" className="text-xs text-amber-800">
            The event history is still catching up with the chain; shares and claimable above are read directly from the contract.
          </p>
        ) : null}

        {showTransfer ? (
          <div className="rounded-lg border border-line p-4">
            <ShareTransfer token={token} owner={owner} assets={assets} display={display} shownBlock={headBlock} onDone={onChanged} />
          </div>
        ) : null}

        <section aria-label="Earnings over time">
          <h4 className="mb-2 text-sm font-medium text-ink">Earnings over time</h4>
          <EarningsChart points={token.earnings} token={display} label={`Earnings of token ${token.tokenId}`} />
        </section>
        <section aria-label="Recent settled queries">
          <h4 className="mb-2 text-sm font-medium text-ink">Recent settled queries of this asset</h4>
          <QueriesTable rows={token.recentQueries} token={display} caption={`Recent settled queries of ${token.asset.name}`} />
        </section>
      </div>
    </article>
  );
}
