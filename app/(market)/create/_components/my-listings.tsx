"use client";
// The signed-in creator's listings in every state, newest first, each linking to its page.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Card } from "@/components/ui/card";
import { QueryProvider } from "@/components/web3/query-client";
import { useSession } from "@/components/web3/session";
import { api } from "../../_components/api";

type Mine = { id: string; kind: string; name: string; status: string; slotId: number | null; failure: string | null; createdAt: string };

const STATUS_STYLE: Record<string, string> = {
  draft: "bg-slate-100 text-slate-700",
  pending: "bg-sky-100 text-sky-800",
  listed: "bg-emerald-100 text-emerald-800",
  failed: "bg-red-100 text-red-800",
};

export function MyListings() {
  return (
    <QueryProvider>
      <Listings />
    </QueryProvider>
  );
}

function Listings() {
  const session = useSession();
  const mine = useQuery({
    queryKey: ["my-listings", session?.address],
    queryFn: async () => (await api<{ listings: Mine[] }>("/api/listings?mine=1&limit=100")).body.listings,
    enabled: session !== null,
  });
  if (!session) {
    return <p className="text-sm text-muted">Sign in with your wallet to list assets and see your drafts here.</p>;
  }
  return (
    <Card title="Your listings">
      {mine.isPending ? (
        <p className="text-sm text-muted">Loading your listings…</p>
      ) : mine.isError ? (
        <p role="alert" className="text-sm text-red-700">
          Could not load your listings: {mine.error.message}
        </p>
      ) : mine.data.length === 0 ? (
        <p className="text-sm text-muted">Nothing yet. Drafts you create appear here until you list or discard them.</p>
      ) : (
        <ul className="divide-y divide-line" data-testid="my-listings">
          {mine.data.map((listing) => (
            <li key={listing.id} className="flex items-center justify-between gap-3 py-2.5">
              <Link href={`/listings/${listing.id}`} className="min-w-0 truncate text-sm font-medium text-ink hover:text-brand-700">
                {listing.name}
              </Link>
              <span className="flex shrink-0 items-center gap-2 text-xs">
                <span className="capitalize text-muted">{listing.kind}</span>
                <span className={`rounded-full px-2 py-0.5 font-medium ${STATUS_STYLE[listing.status] ?? STATUS_STYLE.draft}`}>
                  {listing.status === "listed" ? `slot #${listing.slotId}` : listing.status}
                </span>
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
