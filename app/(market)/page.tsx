// Marketplace: every listing recorded for this chain's asset contract, newest first.
import type { Metadata } from "next";
import { connection } from "next/server";
import { ButtonLink } from "@/components/ui/button-link";
import { EmptyState, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readPublicConfig } from "@/lib/chain/public-config";
import { readTokenInfo, type TokenInfo } from "@/lib/chain/token";
import { getDb } from "@/lib/db";
import { ListingCard, type ListingSummary } from "./_components/listing-card";

export const metadata: Metadata = { title: "Marketplace" };

async function loadListings(chainId: number, assets: string): Promise<ListingSummary[]> {
  return getDb().listing.findMany({
    where: { chainId, assets },
    orderBy: { createdAt: "desc" },
    take: 60,
    select: {
      id: true,
      kind: true,
      name: true,
      description: true,
      creator: true,
      pricePerQuery: true,
      slotId: true,
      status: true,
    },
  });
}

export default async function MarketplacePage() {
  await connection();
  const config = readPublicConfig();

  let listings: ListingSummary[] = [];
  let problem: string | null = config.contractsError;
  let token: TokenInfo | null = null;
  if (config.contracts) {
    try {
      [listings, token] = await Promise.all([
        loadListings(config.chainId, config.contracts.assets),
        readTokenInfo(config.contracts.paymentToken),
      ]);
    } catch (error) {
      console.error(error);
      problem = "The listings could not be loaded from the database. See the server log.";
    }
  }

  return (
    <div className="space-y-8">
      <PageHeader
        title="Marketplace"
        description="Datasets, models and apps, each an ERC-3525 slot on chain. Owners of a slot's shares earn from every paid query to it."
      >
        <ButtonLink href="/create">List an asset</ButtonLink>
      </PageHeader>

      {problem ? <Notice tone="warning">{problem}</Notice> : null}

      {listings.length > 0 ? (
        <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
          {listings.map((listing) => (
            <li key={listing.id}>
              <ListingCard listing={listing} token={token} />
            </li>
          ))}
        </ul>
      ) : problem ? null : (
        <EmptyState title="Nothing is listed yet" action={<ButtonLink href="/create">List the first asset</ButtonLink>}>
          Listings appear here as soon as a dataset, model or app is listed on chain {config.chainId}. Each shows its
          kind, price per query and creator.
        </EmptyState>
      )}
    </div>
  );
}
