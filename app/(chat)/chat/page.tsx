// Chat: talk to an app, paying per query. Lists the apps that exist; the conversation arrives with the
// chat feature.
import type { Metadata } from "next";
import { connection } from "next/server";
import { EmptyState, Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readPublicConfig } from "@/lib/chain/public-config";
import { getDb } from "@/lib/db";

export const metadata: Metadata = { title: "Chat" };

export default async function ChatPage() {
  await connection();
  const config = readPublicConfig();
  let apps: { id: string; name: string; description: string }[] = [];
  let problem: string | null = config.contractsError;
  if (config.contracts) {
    try {
      apps = await getDb().listing.findMany({
        where: { chainId: config.chainId, assets: config.contracts.assets, kind: "app", status: "listed" },
        orderBy: { createdAt: "desc" },
        select: { id: true, name: true, description: true },
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
              <li key={app.id} className="px-5 py-4">
                <p className="font-medium text-ink">{app.name}</p>
                <p className="mt-1 text-sm text-muted">{app.description}</p>
              </li>
            ))}
          </ul>
          <p className="text-sm text-muted">The conversation view is not available in this version yet.</p>
        </section>
      ) : problem ? null : (
        <EmptyState title="No apps to chat with yet">
          Apps listed on chain {config.chainId} appear here. The conversation view is not available in this version yet.
        </EmptyState>
      )}
    </div>
  );
}
