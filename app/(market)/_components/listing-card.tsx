import { formatUnits } from "viem";
import type { TokenInfo } from "@/lib/chain/token";

export type ListingSummary = {
  id: string;
  kind: string;
  name: string;
  description: string;
  creator: string;
  pricePerQuery: string;
  slotId: number | null;
  status: string;
};

const KIND_LABEL: Record<string, string> = { dataset: "Dataset", model: "Model", app: "App" };
const KIND_STYLE: Record<string, string> = {
  dataset: "bg-sky-50 text-sky-800 ring-sky-200",
  model: "bg-violet-50 text-violet-800 ring-violet-200",
  app: "bg-brand-50 text-brand-800 ring-brand-200",
};

export function formatPrice(baseUnits: string, token: TokenInfo | null): string {
  if (!token) return `${baseUnits} base units`;
  return `${formatUnits(BigInt(baseUnits), token.decimals)} ${token.symbol}`;
}

export function ListingCard({ listing, token }: { listing: ListingSummary; token: TokenInfo | null }) {
  return (
    <article className="flex h-full flex-col rounded-xl border border-line bg-white p-5 shadow-sm transition-shadow hover:shadow-md">
      <div className="flex items-center justify-between gap-2">
        <span className={`rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ring-inset ${KIND_STYLE[listing.kind] ?? "bg-slate-50 text-slate-700 ring-slate-200"}`}>
          {KIND_LABEL[listing.kind] ?? listing.kind}
        </span>
        <span className="font-mono text-xs text-slate-500">
          {listing.slotId !== null ? `slot #${listing.slotId}` : listing.status === "failed" ? "listing failed" : "not on chain yet"}
        </span>
      </div>
      <h2 className="mt-3 text-base font-semibold text-ink">{listing.name}</h2>
      <p className="mt-1 line-clamp-3 flex-1 text-sm leading-6 text-muted">{listing.description}</p>
      <dl className="mt-4 grid grid-cols-2 gap-2 border-t border-line pt-3 text-xs">
        <div>
          <dt className="text-slate-500">Price per query</dt>
          <dd className="mt-0.5 font-medium text-ink">{formatPrice(listing.pricePerQuery, token)}</dd>
        </div>
        <div className="min-w-0">
          <dt className="text-slate-500">Creator</dt>
          <dd className="mt-0.5 truncate font-mono text-ink" title={listing.creator}>
            {listing.creator}
          </dd>
        </div>
      </dl>
    </article>
  );
}
