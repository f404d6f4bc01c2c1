// Create: listing a dataset, model or app. The forms arrive with the listing feature; until then this
// page says what they will do and who can use them.
import type { Metadata } from "next";
import { Card } from "@/components/ui/card";
import { PageHeader } from "@/components/ui/page-header";

export const metadata: Metadata = { title: "Create" };

const KINDS = [
  {
    name: "Dataset",
    text: "Upload documents. They are split into chunks and indexed so apps can retrieve from them. Only you can download the files.",
  },
  {
    name: "Model",
    text: "Register a model behind an OpenAI-compatible endpoint. Its API key is encrypted on the server and never reaches a browser.",
  },
  {
    name: "App",
    text: "Combine a prompt, one model and any datasets. Every paid query to the app also pays the model and datasets it uses.",
  },
] as const;

export default function CreatePage() {
  return (
    <div className="space-y-8">
      <PageHeader
        title="Create a listing"
        description="Each listing becomes an ERC-3525 slot. You receive its shares, set a price per query, and earn whenever it is used."
      />
      <div className="grid gap-4 md:grid-cols-3">
        {KINDS.map((kind) => (
          <Card key={kind.name} title={kind.name}>
            <p className="text-sm leading-6 text-muted">{kind.text}</p>
          </Card>
        ))}
      </div>
      <p className="text-sm text-muted">
        Listing forms are not available in this version yet. Listing will need a signed-in wallet on the configured chain.
      </p>
    </div>
  );
}
