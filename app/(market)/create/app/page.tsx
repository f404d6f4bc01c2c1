import type { Metadata } from "next";
import { connection } from "next/server";
import { Notice } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";
import { readPublicConfig } from "@/lib/chain/public-config";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { healthView, staleAfterMs } from "@/lib/models/health";
import { tokenForForms } from "../_components/token";
import { AppForm, type Component } from "./_components/app-form";

export const metadata: Metadata = { title: "List an app" };

export default async function CreateAppPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  await connection();
  const config = readPublicConfig();
  const token = await tokenForForms();
  const preselect = await searchParams;
  let models: Component[] = [];
  let datasets: Component[] = [];
  const staleAfter = staleAfterMs(serverEnv().MODEL_PROBE_INTERVAL_MS);
  if (config.contracts) {
    const rows = await getDb().listing.findMany({
      where: { chainId: config.chainId, assets: config.contracts.assets, status: "listed", kind: { in: ["model", "dataset"] } },
      orderBy: { createdAt: "desc" },
      take: 500,
      select: { id: true, kind: true, name: true, description: true, pricePerQuery: true, creator: true, slotId: true, dataset: { select: { status: true, chunkCount: true } }, model: { select: { provider: true, modelName: true, health: true } } },
    });
    const pick = (row: (typeof rows)[number]): Component => ({
      id: row.id,
      name: row.name,
      description: row.description,
      price: row.pricePerQuery,
      creator: row.creator,
      slotId: row.slotId,
      detail: row.model ? `${row.model.provider === "offline" ? "offline" : row.model.modelName}` : `${row.dataset?.chunkCount ?? 0} ${row.dataset?.chunkCount === 1 ? "passage" : "passages"}`,
      ready: row.kind === "model" || row.dataset?.status === "ready",
      health: row.model ? healthView(row.model.provider, row.model.health, staleAfter) : undefined,
    });
    models = rows.filter((r) => r.kind === "model").map(pick);
    datasets = rows.filter((r) => r.kind === "dataset").map(pick);
  }
  return (
    <div className="space-y-8">
      <PageHeader
        title="List an app"
        description="An app is a system prompt, one model and the datasets it retrieves from. Users pay per query: your price, plus the model's (per query and, if it says so, per token), plus each dataset whose passages go into the model's context."
      />
      {config.contractsError ? <Notice tone="warning">{config.contractsError}</Notice> : null}
      <AppForm
        token={token}
        models={models}
        datasets={datasets}
        initialModel={typeof preselect.model === "string" ? preselect.model : undefined}
        initialDatasets={typeof preselect.dataset === "string" ? [preselect.dataset] : []}
      />
    </div>
  );
}
