// Marketplace: listed datasets, models and apps of this chain's asset contract, with full-text search,
// a kind filter and sorting (newest, price, most used: queries served, read from settled receipts).
import type { Metadata } from "next";
import { connection } from "next/server";
import type { Address } from "viem";
import { ButtonLink } from "@/components/ui/button-link";
import { EmptyState, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readPublicConfig } from "@/lib/chain/public-config";
import { readTokenInfo, type TokenInfo } from "@/lib/chain/token";
import { readDeployment } from "@/lib/chain/deployment";
import { serverEnv } from "@/lib/env";
import { searchCatalog, type ListingSummary } from "@/lib/listings/catalog";
import { KINDS, SORTS, SORT_LABELS, type Kind, type Sort } from "@/lib/listings/catalog-query";
import { ListingCard } from "./_components/listing-card";
import { MarketFilters } from "./_components/market-filters";

export const metadata: Metadata = { title: "Marketplace" };

const PAGE_SIZE = 60;

export default async function MarketplacePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await connection();
  const config = readPublicConfig();
  const params = await searchParams;
  const q = typeof params.q === "string" ? params.q.slice(0, 200) : "";
  const kind = KINDS.includes(params.kind as Kind) ? (params.kind as Kind) : undefined;
  const sort = SORTS.includes(params.sort as Sort) ? (params.sort as Sort) : undefined;

  let listings: ListingSummary[] = [];
  let total = 0;
  let problem: string | null = config.contractsError;
  let usageProblem = false;
  let token: TokenInfo | null = null;
  if (config.contracts) {
    try {
      const env = serverEnv();
      const deployment = readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
      const [result, info] = await Promise.all([
        searchCatalog(deployment, { q, kind, sort: sort ?? (q ? undefined : "newest"), limit: PAGE_SIZE }),
        readTokenInfo(config.contracts.paymentToken as Address),
      ]);
      listings = result.listings;
      total = result.total;
      usageProblem = result.usageError;
      token = info;
    } catch (error) {
      console.error(error);
      problem = "The listings could not be loaded. See the server log.";
    }
  }
  const filtered = Boolean(q || kind);

  return (
    <div className="space-y-8">
      <PageHeader
        title="Marketplace"
        description="Datasets, models and apps, each an ERC-3525 slot on chain. Owners of a slot's shares earn from every paid query to it."
      >
        <ButtonLink href="/create">List an asset</ButtonLink>
      </PageHeader>

      <MarketFilters q={q} kind={kind ?? ""} sort={sort ?? (q ? "" : "newest")} sortLabels={SORT_LABELS} />

      {problem ? <Notice tone="warning">{problem}</Notice> : null}
      {usageProblem ? <Notice tone="warning">Query counts could not be read from the chain just now; they show as —.</Notice> : null}

      {listings.length > 0 ? (
        <>
          <p className="text-sm text-muted" aria-live="polite" data-testid="result-count">
            {total.toLocaleString("en")} {total === 1 ? "asset" : "assets"}
            {q ? <span className="wrap-anywhere">{` matching “${q}”`}</span> : ""}
            {kind ? ` · ${kind}s only` : ""}
            {total > listings.length ? ` · showing the first ${listings.length}` : ""}
          </p>
          <ul className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-3" data-testid="listing-grid">
            {listings.map((listing) => (
              <li key={listing.id}>
                <ListingCard listing={listing} token={token} />
              </li>
            ))}
          </ul>
        </>
      ) : problem ? null : filtered ? (
        <EmptyState title="Nothing matches" action={<ButtonLink href="/" variant="secondary">Clear the search</ButtonLink>}>
          No listed {kind ? `${kind} ` : "asset "}matches{q ? ` “${q}”` : ""}. Search looks at names, descriptions and tags.
        </EmptyState>
      ) : (
        <EmptyState title="Nothing is listed yet" action={<ButtonLink href="/create">List the first asset</ButtonLink>}>
          Listings appear here as soon as a dataset, model or app is listed on chain {config.chainId}. Each shows its kind, price per query and creator.
        </EmptyState>
      )}
    </div>
  );
}
