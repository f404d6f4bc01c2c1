// An asset's page. Anyone sees a listed asset with what the chain says about its slot (price, total
// earned, queries served, holders and their shares); its creator also sees drafts, the listing step,
// indexing progress, the dataset's passages and tools to edit the listing.
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { connection } from "next/server";
import type { Address } from "viem";
import { HealthBadge, HealthDetail, ModelDownNotice } from "@/components/models/health-status";
import { ButtonLink } from "@/components/ui/button-link";
import { Card, Notice } from "@/components/ui/card";
import { currentSession } from "@/lib/auth/session";
import { readTokenInfo, type TokenInfo } from "@/lib/chain/token";
import { readSlotReport } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { serverPublicClient } from "@/lib/chain/server-client";
import { ownerListing, publicListing, type PublicListing } from "@/lib/listings/catalog";
import { currentDeployment } from "@/lib/listings/service";
import { modelHealth } from "@/lib/models/health-server";
import { sharePercent } from "@/lib/chain/earnings";
import { formatPrice } from "../../_components/listing-card";
import { KindBadge } from "../../_components/kind-badge";
import { getDb } from "@/lib/db";
import { latestScorecard } from "@/lib/datasets/scorecards";
import { datasetVersions } from "@/lib/datasets/versions";
import { licenceOffer } from "@/lib/licences/service";
import { ScorecardFigures, VersionHistory } from "./_components/dataset-history";
import type { OfferVersion } from "./_components/licence-offer";
import { DatasetTools, DatasetVersions, DraftPanel, EditListing, LicenceOffer, LicencePrices, LicencePublish, ModelTest, ScorecardTools } from "./_components/owner-tools";

export const metadata: Metadata = { title: "Asset" };

/** What the chain says about the slot (the dashboards' reader: event index + views). */
type SlotStats = {
  active: boolean;
  pricePerQuery: bigint;
  revenue: bigint;
  queries: number;
  contentHash: string;
  holders: { address: string; sharePercent: string }[];
};

async function readStats(slot: number): Promise<SlotStats> {
  const ctx = serverReaderContext();
  const [report, info] = await Promise.all([
    readSlotReport(ctx, BigInt(slot)),
    serverPublicClient().readContract({ address: ctx.deployment.assets as Address, abi: kipAssetsAbi, functionName: "slotInfo", args: [BigInt(slot)] }),
  ]);
  // One row per owner (an owner may hold several tokens of the slot).
  const byOwner = new Map<string, bigint>();
  for (const holder of report.holders) byOwner.set(holder.owner, (byOwner.get(holder.owner) ?? 0n) + BigInt(holder.shares));
  const holders = [...byOwner.entries()]
    .filter(([, shares]) => shares > 0n)
    .sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : 0))
    .map(([address, shares]) => ({ address, sharePercent: sharePercent(shares) }));
  return {
    active: report.asset.active,
    pricePerQuery: BigInt(report.asset.pricePerQuery),
    revenue: BigInt(report.asset.revenue),
    queries: report.queries,
    contentHash: info.contentHash,
    holders,
  };
}

export default async function ListingPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<{ licencesBefore?: string }> }) {
  await connection();
  const { id } = await params;
  if (!/^[a-z0-9]{20,40}$/.test(id)) notFound();
  const session = await currentSession();
  const own = session ? await ownerListing(id, session.address as Address) : null;
  const listing: PublicListing | null = own ?? (await publicListing(id));
  if (!listing || (!own && listing.status !== "listed")) notFound();

  const deployment = (() => {
    try {
      return currentDeployment();
    } catch {
      return null;
    }
  })();
  let token: TokenInfo | null = null;
  let stats: SlotStats | null = null;
  let chainProblem: string | null = null;
  if (deployment) {
    token = await readTokenInfo(deployment.paymentToken as Address);
    if (listing.status === "listed" && listing.slotId !== null) {
      try {
        stats = await readStats(listing.slotId);
      } catch (error) {
        console.error(error);
        chainProblem = `The chain (${deployment.chainId}) could not be read just now, so the on-chain figures are missing. Reload to try again.`;
      }
    }
  }
  const price = (units: string | bigint) => formatPrice(units.toString(), token);
  // Files sold under a licence (datasets and models): what the chain says about each published version.
  // The newest versions, or those before ?licencesBefore=N (older pages), as the API pages them.
  let licence: { slot: number; versions: OfferVersion[]; unavailable: number[]; nextBefore: number | null; paged: boolean } | null = null;
  let licenceProblem: string | null = null;
  if (deployment && listing.status === "listed" && listing.slotId !== null && (listing.kind === "dataset" || listing.kind === "model")) {
    const beforeParam = (await searchParams).licencesBefore;
    const before = beforeParam && /^[1-9]\d{0,8}$/.test(beforeParam) ? Number(beforeParam) : undefined;
    try {
      const offer = await licenceOffer(listing.id, session ? (session.address as Address) : null, before);
      licence = { slot: offer.slot, versions: offer.versions as OfferVersion[], unavailable: offer.unavailable, nextBefore: offer.nextBefore, paged: before !== undefined };
    } catch (error) {
      console.error(error);
      licenceProblem = "The licences on chain could not be read just now. Reload to try again.";
    }
  }
  const isCreator = Boolean(session && session.address.toLowerCase() === listing.creator.toLowerCase());
  // The model's endpoint health (a model's own, or an app's model's), as the last probe found it.
  const healthOf = listing.model ? listing.id : listing.app?.model.id;
  const health = healthOf ? await modelHealth(healthOf) : null;
  // A dataset's versions (the chain is read while one is pending) and its retrieval scorecard.
  const [history, scorecard] = listing.dataset
    ? await Promise.all([datasetVersions(listing.id), latestScorecard(getDb(), listing.id)])
    : [null, null];

  return (
    <div className="space-y-8">
      <div className="space-y-3 border-b border-line pb-6">
        <div className="flex flex-wrap items-center gap-2">
          <KindBadge kind={listing.kind} />
          {listing.slotId !== null ? <span className="font-mono text-xs text-slate-500">slot #{listing.slotId}</span> : null}
          {listing.status !== "listed" ? (
            <span className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-900">{listing.status}: only you can see this</span>
          ) : null}
          {stats && !stats.active ? <span className="rounded-full bg-slate-200 px-2 py-0.5 text-xs font-medium text-slate-700">inactive</span> : null}
        </div>
        <div className="flex flex-col gap-4 sm:flex-row sm:items-start sm:justify-between">
          <div className="min-w-0 max-w-3xl">
            <h1 className="text-2xl font-semibold tracking-tight text-ink wrap-anywhere sm:text-3xl">{listing.name}</h1>
            <p className="mt-2 whitespace-pre-line text-sm leading-6 text-muted wrap-anywhere sm:text-base">{listing.description}</p>
            {listing.tags.length ? (
              <ul className="mt-3 flex flex-wrap gap-1.5" aria-label="Tags">
                {listing.tags.map((tag) => (
                  <li key={tag}>
                    <Link href={`/?q=${encodeURIComponent(tag)}`} className="rounded-full bg-slate-100 px-2.5 py-0.5 text-xs text-slate-700 hover:bg-slate-200">
                      {tag}
                    </Link>
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
          {listing.kind === "app" && listing.status === "listed" ? (
            <div className="shrink-0">
              <ButtonLink href={`/chat/${listing.id}`}>Chat with this app</ButtonLink>
            </div>
          ) : null}
        </div>
        <p className="text-sm text-muted">
          by{" "}
          <Link href={`/creators/${listing.creator}`} className="break-all font-mono text-ink hover:text-brand-700">
            {listing.creator}
          </Link>
        </p>
      </div>

      {listing.app && health ? <ModelDownNotice modelName={listing.app.model.name} health={health} /> : null}

      {own && listing.status !== "listed" ? (
        <Card title="List on chain">
          <DraftPanel listing={own} modelId={own.model ? own.id : own.app?.model.id} />
        </Card>
      ) : null}

      {chainProblem ? <Notice tone="warning">{chainProblem}</Notice> : null}

      {listing.status === "listed" ? (
        <section aria-label="On chain" className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {[
            ["Price per query", stats ? price(stats.pricePerQuery) : "—", "price"],
            ["Total earned", stats ? price(stats.revenue) : "—", "revenue"],
            ["Queries served", stats ? stats.queries.toLocaleString("en") : "—", "queries"],
            ["Holders", stats ? String(stats.holders.length) : "—", "holders"],
          ].map(([label, value, key]) => (
            <div key={key} className="min-w-0 rounded-xl border border-line bg-white p-4 shadow-sm">
              <p className="text-xs font-medium uppercase tracking-wide text-muted">{label}</p>
              <p className="mt-1 text-xl font-semibold tabular-nums text-ink wrap-anywhere" data-testid={`stat-${key}`}>
                {value}
              </p>
            </div>
          ))}
        </section>
      ) : null}

      <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0 space-y-6">
          {listing.app ? (
            <Card title="Built from">
              <ul className="divide-y divide-line" data-testid="app-components">
                {[{ ...listing.app.model, role: "Model" }, ...listing.app.datasets.map((d) => ({ ...d, role: "Dataset" }))].map((part) => (
                  <li key={part.id} className="flex items-center justify-between gap-3 py-2.5 text-sm">
                    <span className="min-w-0">
                      <span className="mr-2 text-xs uppercase tracking-wide text-muted">{part.role}</span>
                      <Link href={`/listings/${part.id}`} className="font-medium text-ink wrap-anywhere hover:text-brand-700">
                        {part.name}
                      </Link>
                    </span>
                    <span className="flex shrink-0 flex-col items-end gap-0.5">
                      <span className="tabular-nums text-muted">{price(part.pricePerQuery)}</span>
                      {part.role === "Model" && health ? <HealthBadge health={health} className="text-xs text-muted" /> : null}
                    </span>
                  </li>
                ))}
              </ul>
              <p className="mt-3 text-xs text-muted">
                Retrieves the {listing.app.topK} best passages per query. A query costs at most{" "}
                <span className="font-medium text-ink" data-testid="app-total-price">
                  {price(
                    (
                      BigInt(stats?.pricePerQuery ?? listing.pricePerQuery) +
                      BigInt(listing.app.model.pricePerQuery) +
                      listing.app.datasets.reduce((sum, d) => sum + BigInt(d.pricePerQuery), 0n)
                    ).toString(),
                  )}
                </span>{" "}
                (datasets are paid only when their passages are used).
              </p>
              {own?.app ? (
                <details className="mt-4 rounded-lg border border-line p-3 text-sm">
                  <summary className="cursor-pointer font-medium text-ink">System prompt (private)</summary>
                  <p className="mt-2 whitespace-pre-wrap text-muted wrap-anywhere">{own.app.systemPrompt}</p>
                </details>
              ) : null}
            </Card>
          ) : null}

          {listing.model ? (
            <Card title="Model">
              <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-y-2 text-sm">
                <dt className="text-muted">Provider</dt>
                <dd className="text-ink">{listing.model.provider === "offline" ? "Built-in offline model" : "OpenAI-compatible endpoint"}</dd>
                <dt className="text-muted">Status</dt>
                <dd className="text-ink">{health ? <HealthDetail health={health} /> : "—"}</dd>
                <dt className="text-muted">Model id</dt>
                <dd className="break-all font-mono text-ink">{listing.model.modelName}</dd>
                <dt className="text-muted">Token prices</dt>
                <dd className="text-ink" data-testid="token-prices">
                  {listing.model.pricePerKInput === "0" && listing.model.pricePerKOutput === "0"
                    ? "none: priced per query only"
                    : `${price(listing.model.pricePerKInput)} per 1,000 input tokens · ${price(listing.model.pricePerKOutput)} per 1,000 output tokens, on top of the price per query`}
                </dd>
                {listing.model.embeddingsModel ? (
                  <>
                    <dt className="text-muted">Embeddings</dt>
                    <dd className="break-all font-mono text-ink">{listing.model.embeddingsModel}</dd>
                  </>
                ) : null}
                {own?.model?.baseUrl ? (
                  <>
                    <dt className="text-muted">Base URL</dt>
                    <dd className="break-all font-mono text-ink">{own.model.baseUrl}</dd>
                    <dt className="text-muted">API key</dt>
                    <dd className="text-ink">{own.model.hasApiKey ? "stored, encrypted" : "none"}</dd>
                  </>
                ) : null}
              </dl>
              {own ? <ModelTest listingId={listing.id} /> : null}
              {listing.status === "listed" ? (
                <p className="mt-4 text-sm">
                  <Link className="font-medium text-brand-700 underline" href={`/create/app?model=${listing.id}`}>
                    Build an app on this model
                  </Link>
                </p>
              ) : null}
            </Card>
          ) : null}

          {listing.dataset ? (
            <Card title="Dataset">
              <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-y-2 text-sm">
                <dt className="text-muted">License</dt>
                <dd className="text-ink wrap-anywhere">{listing.dataset.license || "—"}</dd>
                <dt className="text-muted">Documents</dt>
                <dd className="text-ink wrap-anywhere">
                  {listing.dataset.documents.length} ({listing.dataset.documents.map((d) => d.filename).join(", ")})
                </dd>
                <dt className="text-muted">Passages</dt>
                <dd className="text-ink">{listing.dataset.chunkCount.toLocaleString("en")}</dd>
                <dt className="text-muted">Content hash</dt>
                <dd className="break-all font-mono text-xs text-ink">{listing.dataset.contentHash}</dd>
              </dl>
              {own?.dataset ? <DatasetTools listingId={listing.id} documents={own.dataset.documents} /> : null}
              {listing.status === "listed" ? (
                <p className="mt-4 text-sm">
                  <Link className="font-medium text-brand-700 underline" href={`/create/app?dataset=${listing.id}`}>
                    Build an app on this dataset
                  </Link>
                </p>
              ) : null}
            </Card>
          ) : null}

          {listing.dataset && history ? (
            <Card title="Retrieval scorecard">
              <ScorecardFigures scorecard={scorecard} current={history.current} />
              {own?.dataset ? <ScorecardTools listingId={listing.id} documents={own.dataset.documents.map((d) => d.filename)} /> : null}
            </Card>
          ) : null}

          {listing.dataset && history ? (
            <Card title="Versions">
              {own?.dataset && listing.status === "listed" && listing.slotId !== null ? (
                <div className="mb-5 border-b border-line pb-5">
                  <DatasetVersions
                    listingId={listing.id}
                    slot={listing.slotId}
                    metadataUri={listing.metadataUri}
                    documents={own.dataset.documents.filter((d) => d.indexed)}
                    pending={history.pending}
                  />
                </div>
              ) : null}
              <p className="mb-2 text-xs text-muted">
                Apps search the newest version, {history.current}. Each version&apos;s metadata, with the hash of its documents, is committed on chain
                from the creator&apos;s wallet.
              </p>
              <VersionHistory versions={history.versions} />
            </Card>
          ) : null}

          {licence && (licence.versions.length || own) ? (
            <Card title="Files under licence">
              {licence.versions.length ? (
                <LicenceOffer
                  listingId={listing.id}
                  slot={licence.slot}
                  versions={licence.versions}
                  token={token ? { symbol: token.symbol, decimals: token.decimals } : { symbol: "tokens", decimals: 6 }}
                  buyer={session ? (session.address as Address) : null}
                  isCreator={isCreator}
                />
              ) : (
                <p className="text-sm text-muted">
                  Offer this {listing.kind === "model" ? "model's weights or other files" : "dataset's original files"} for download under a licence, for a one-time price paid to the slot&apos;s holders.
                </p>
              )}
              {licence.unavailable.length ? (
                <p className="mt-3 text-sm text-muted" role="status">
                  Version{licence.unavailable.length > 1 ? "s" : ""} {licence.unavailable.join(", ")} could not be read from the chain just now. Reload to try again.
                </p>
              ) : null}
              {licence.nextBefore !== null || licence.paged ? (
                <p className="mt-3 flex flex-wrap gap-4 text-sm">
                  {licence.paged ? (
                    <Link className="font-medium text-brand-700 underline" href={`/listings/${listing.id}`}>
                      Newest versions
                    </Link>
                  ) : null}
                  {licence.nextBefore !== null ? (
                    <Link className="font-medium text-brand-700 underline" href={`/listings/${listing.id}?licencesBefore=${licence.nextBefore}`}>
                      Older versions
                    </Link>
                  ) : null}
                </p>
              ) : null}
              {own && !licence.paged && licence.versions[0] ? (
                <details className="mt-4 rounded-lg border border-line p-3">
                  <summary className="cursor-pointer text-sm font-medium text-ink">Change the prices of version {licence.versions[0].version}</summary>
                  <div className="mt-3">
                    <LicencePrices
                      slot={licence.slot}
                      version={licence.versions[0].version!}
                      price={licence.versions[0].chain.price}
                      upgradePrice={licence.versions[0].chain.upgradePrice}
                      token={token ? { symbol: token.symbol, decimals: token.decimals } : { symbol: "tokens", decimals: 6 }}
                    />
                  </div>
                </details>
              ) : null}
              {own && !licence.paged ? (
                <details className="mt-4 rounded-lg border border-line p-3" open={!licence.versions.length}>
                  <summary className="cursor-pointer text-sm font-medium text-ink">{licence.versions.length ? "Publish a new version" : "Sell files under a licence"}</summary>
                  <div className="mt-3">
                    <LicencePublish
                      listingId={listing.id}
                      latest={licence.versions[0] ? { version: licence.versions[0].version!, terms: licence.versions[0].terms, files: licence.versions[0].files } : null}
                      token={{ symbol: token?.symbol ?? "tokens" }}
                    />
                  </div>
                </details>
              ) : null}
            </Card>
          ) : licenceProblem ? (
            <Notice tone="warning">{licenceProblem}</Notice>
          ) : null}

          {own && listing.status === "listed" && listing.slotId !== null ? (
            <Card title="Edit">
              <EditListing listingId={listing.id} slot={listing.slotId} description={listing.description} price={stats ? stats.pricePerQuery.toString() : listing.pricePerQuery} token={token ? { symbol: token.symbol, decimals: token.decimals } : { symbol: "tokens", decimals: 6 }} />
            </Card>
          ) : null}
        </div>

        <div className="min-w-0 space-y-6">
          {stats ? (
            <Card title="Holders">
              <ul className="space-y-2" data-testid="holders">
                {stats.holders.map((holder) => (
                  <li key={holder.address} className="flex items-center justify-between gap-3 text-sm">
                    <Link href={`/creators/${holder.address}`} className="min-w-0 truncate font-mono text-ink hover:text-brand-700" title={holder.address}>
                      {holder.address}
                    </Link>
                    <span className="shrink-0 tabular-nums text-muted">{`${holder.sharePercent}%`}</span>
                  </li>
                ))}
              </ul>
              <p className="mt-3 text-xs text-muted">
                Shares of the slot&apos;s 1,000,000; each holder earns that part of every payment to it.{" "}
                <Link href={`/dashboard/listings/${listing.slotId}`} className="text-brand-700 underline">
                  Earnings and history
                </Link>
              </p>
            </Card>
          ) : null}
          <Card title="Metadata">
            <dl className="space-y-2 text-xs">
              <div>
                <dt className="text-muted">URI</dt>
                <dd>
                  <a className="break-all font-mono text-brand-700 underline" href={listing.metadataUri}>
                    {listing.metadataUri}
                  </a>
                </dd>
              </div>
              <div>
                <dt className="text-muted">Content hash (keccak256, on chain)</dt>
                <dd className="break-all font-mono text-ink">{stats?.contentHash ?? listing.contentHash}</dd>
              </div>
              {listing.listTxHash ? (
                <div>
                  <dt className="text-muted">Listing transaction</dt>
                  <dd className="break-all font-mono text-ink">{listing.listTxHash}</dd>
                </div>
              ) : null}
            </dl>
          </Card>
        </div>
      </div>
    </div>
  );
}
