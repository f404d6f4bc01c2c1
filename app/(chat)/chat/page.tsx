// Chat: talk to an app, paying per query. Lists the apps listed on this chain; each opens its chat.
import type { Metadata } from "next";
import Link from "next/link";
import { connection } from "next/server";
import { EmptyState, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readPublicConfig } from "@/lib/chain/public-config";
import { getDb } from "@/lib/db";

export const metadata: Metadata = { title: "Chat" };

export default async function ChatPage() {
  await connection();
  const config = readPublicConfig();
  let apps: { id: string; name: string; description: string; pricePerQuery: string }[] = [];
  let problem: string | null = config.contractsError;
  if (config.contracts) {
    try {
      apps = await getDb().listing.findMany({
        where: { chainId: config.chainId, assets: config.contracts.assets, kind: "app", status: "listed" },
        orderBy: { createdAt: "desc" },
        select: { id: true, name: true, description: true, pricePerQuery: true },
      });
    } catch (error) {
      console.error(error);
      problem = "The apps could not be loaded from the database. See the server log.";
    }
  }

  return (
    <div className="space-y-8">
      <PageHeader
        title="Chat"
        description="Ask an app a question. Each answer costs the app's price per query, paid from your balance with a signed receipt; you see the price before you send."
      />
      {problem ? <Notice tone="warning">{problem}</Notice> : null}
      {apps.length > 0 ? (
        <section aria-labelledby="apps-heading" className="space-y-3">
          <h2 id="apps-heading" className="text-sm font-semibold uppercase tracking-wide text-muted">
            Apps on this marketplace
          </h2>
          <ul className="divide-y divide-line rounded-xl border border-line bg-white">
            {apps.map((app) => (
              <li key={app.id}>
                <Link href={`/chat/${app.id}`} className="flex items-center gap-4 px-5 py-4 hover:bg-slate-50" data-testid="chat-app-link">
                  <span className="min-w-0 flex-1">
                    <span className="block font-medium text-ink">{app.name}</span>
                    <span className="mt-1 block text-sm text-muted">{app.description}</span>
                  </span>
                  <span className="shrink-0 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white">Chat</span>
                </Link>
              </li>
            ))}
          </ul>
          <p className="text-sm text-muted">
            The price of a message is the app&apos;s price plus its model&apos;s and each dataset&apos;s; datasets whose passages an answer does not use are not charged.
          </p>
        </section>
      ) : problem ? null : (
        <EmptyState title="No apps to chat with yet">
          Apps listed on chain {config.chainId} appear here. Create one from a model and some datasets on the Create page.
        </EmptyState>
      )}
    </div>
  );
}
