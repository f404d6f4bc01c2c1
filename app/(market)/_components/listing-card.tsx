import Link from "next/link";
import { formatUnits } from "viem";
import type { TokenInfo } from "@/lib/chain/token";
import { KindBadge } from "./kind-badge";

export type ListingCardData = {
  id: string;
  kind: string;
  name: string;
  description: string;
  creator: string;
  pricePerQuery: string;
  slotId: number | null;
  tags?: string[];
  queries?: number | null;
};

export function formatPrice(baseUnits: string, token: TokenInfo | null): string {
  if (!token) return `${baseUnits} base units`;
  return `${formatUnits(BigInt(baseUnits), token.decimals)} ${token.symbol}`;
}

export function ListingCard({ listing, token }: { listing: ListingCardData; token: TokenInfo | null }) {
  return (
    <article className="relative flex h-full min-w-0 flex-col rounded-xl border border-line bg-white p-5 shadow-sm transition-shadow focus-within:ring-2 focus-within:ring-brand-600 hover:shadow-md" data-testid="listing-card">
      <div className="flex items-center justify-between gap-2">
        <KindBadge kind={listing.kind} />
        <span className="font-mono text-xs text-slate-500">{listing.slotId !== null ? `slot #${listing.slotId}` : ""}</span>
      </div>
      <h2 className="mt-3 text-base font-semibold text-ink wrap-anywhere">
        <Link href={`/listings/${listing.id}`} className="after:absolute after:inset-0 focus:outline-none">
          {listing.name}
        </Link>
      </h2>
      <p className="mt-1 line-clamp-3 flex-1 text-sm leading-6 text-muted wrap-anywhere">{listing.description}</p>
      {listing.tags?.length ? (
        <ul className="mt-3 flex flex-wrap gap-1" aria-label="Tags">
          {listing.tags.slice(0, 4).map((tag) => (
            <li key={tag} className="max-w-full truncate rounded-full bg-slate-100 px-2 py-0.5 text-xs text-slate-700">
              {tag}
            </li>
          ))}
        </ul>
      ) : null}
      <dl className="mt-4 grid grid-cols-3 gap-2 border-t border-line pt-3 text-xs">
        <div className="min-w-0">
          <dt className="text-slate-500">Per query</dt>
          <dd className="mt-0.5 font-medium text-ink wrap-anywhere">{formatPrice(listing.pricePerQuery, token)}</dd>
        </div>
        <div className="min-w-0">
          <dt className="text-slate-500">Queries</dt>
          <dd className="mt-0.5 font-medium tabular-nums text-ink">{listing.queries === null || listing.queries === undefined ? "—" : listing.queries.toLocaleString("en")}</dd>
        </div>
        <div className="min-w-0">
          <dt className="text-slate-500">Creator</dt>
          <dd className="relative z-10 mt-0.5 truncate font-mono text-ink" title={listing.creator}>
            <Link href={`/creators/${listing.creator}`} className="hover:text-brand-700">
              {listing.creator.slice(0, 6)}…{listing.creator.slice(-4)}
            </Link>
          </dd>
        </div>
      </dl>
    </article>
  );
}
