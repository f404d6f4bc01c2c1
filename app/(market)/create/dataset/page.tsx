import type { Metadata } from "next";
import { connection } from "next/server";
import { PageHeader } from "@/components/ui/page-header";
import { tokenForForms } from "../_components/token";
import { DatasetForm } from "./_components/dataset-form";

export const metadata: Metadata = { title: "List a dataset" };

export default async function CreateDatasetPage() {
  await connection();
  const token = await tokenForForms();
  return (
    <div className="space-y-8">
      <PageHeader
        title="List a dataset"
        description="Upload documents. The server extracts their text, splits it into passages and indexes them for search. Apps that use your dataset pay you for every answer built from its passages."
      />
      <DatasetForm token={token} />
    </div>
  );
}
