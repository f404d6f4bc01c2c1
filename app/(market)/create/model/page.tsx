import type { Metadata } from "next";
import { connection } from "next/server";
import { PageHeader } from "@/components/ui/page-header";
import { tokenForForms } from "../_components/token";
import { ModelForm } from "./_components/model-form";

export const metadata: Metadata = { title: "List a model" };

export default async function CreateModelPage() {
  await connection();
  const token = await tokenForForms();
  return (
    <div className="space-y-8">
      <PageHeader
        title="List a model"
        description="Any model behind an OpenAI-compatible API (hosted, or your own server), or the built-in offline model. Apps built on it pay you on every query."
      />
      <ModelForm token={token} />
    </div>
  );
}
