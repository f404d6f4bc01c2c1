// A creator's profile: everything the address has listed, and its shares in slots, read from the chain.
import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { connection } from "next/server";
import { getAddress, isAddress, type Address } from "viem";
import { EmptyState, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readTokenInfo, type TokenInfo } from "@/lib/chain/token";
import { searchCatalog, type ListingSummary } from "@/lib/listings/catalog";
import { currentDeployment } from "@/lib/listings/service";
import { ListingCard } from "../../_components/listing-card";

export const metadata: Metadata = { title: "Creator" };

export default async function CreatorPage({ params }: { params: Promise<{ address: string }> }) {
  await connection();
  const { address: raw } = await params;
  if (!isAddress(raw, { strict: false })) notFound();
  const address = getAddress(raw);
  let listings: ListingSummary[] = [];
  let token: TokenInfo | null = null;
  let problem: string | null = null;
  try {
    const deployment = currentDeployment();
    const [result, info] = await Promise.all([
      searchCatalog(deployment, { creator: address, sort: "newest", limit: 200 }),
      readTokenInfo(deployment.paymentToken as Address),
    ]);
    listings = result.listings;
    token = info;
  } catch (error) {
    console.error(error);
    problem = "This creator's listings could not be loaded. See the server log.";
  }
  const counts = { app: 0, model: 0, dataset: 0 } as Record<string, number>;
  for (const l of listings) counts[l.kind] = (counts[l.kind] ?? 0) + 1;
  const queries = listings.reduce((sum, l) => sum + (l.queries ?? 0), 0);
  return (
    <div className="space-y-8">
      <PageHeader
        title="Creator"
        description={
          <span className="break-all font-mono text-sm" data-testid="creator-address">
            {address}
          </span>
        }
      />
      {problem ? <Notice tone="warning">{problem}</Notice> : null}
      <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4">
        {[
          ["Apps", counts.app],
          ["Models", counts.model],
          ["Datasets", counts.dataset],
          ["Queries served", queries],
        ].map(([label, value]) => (
          <div key={label} className="min-w-0 rounded-xl border border-line bg-white p-4 shadow-sm">
            <dt className="text-xs font-medium uppercase tracking-wide text-muted">{label}</dt>
            <dd className="mt-1 text-xl font-semibold tabular-nums text-ink">{Number(value).toLocaleString("en")}</dd>
          </div>
        ))}
      </dl>
      {listings.length ? (
        <ul className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-3">
          {listings.map((listing) => (
            <li key={listing.id}>
              <ListingCard listing={listing} token={token} />
            </li>
          ))}
        </ul>
      ) : problem ? null : (
        <EmptyState title="No listings yet">This address has not listed anything on this marketplace.</EmptyState>
      )}
    </div>
  );
}
