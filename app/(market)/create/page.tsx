// Create: pick what to list, and see your own listings (drafts, pending and failed ones included).
import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/components/ui/page-header";
import { MyListings } from "./_components/my-listings";

export const metadata: Metadata = { title: "Create" };

const KINDS = [
  {
    href: "/create/dataset",
    name: "Dataset",
    text: "Upload documents (txt, md, html, pdf, csv, json). They are split into passages and indexed so apps can retrieve from them. Only you can download the files.",
  },
  {
    href: "/create/model",
    name: "Model",
    text: "Register a model behind an OpenAI-compatible endpoint, or offer the built-in offline model. Its API key is encrypted on the server and never reaches a browser.",
  },
  {
    href: "/create/app",
    name: "App",
    text: "Combine a system prompt, one model and one or more datasets from the marketplace. Every paid query to the app also pays the model and the datasets it uses.",
  },
] as const;

export default function CreatePage() {
  return (
    <div className="space-y-8">
      <PageHeader
        title="Create a listing"
        description="Each listing becomes an ERC-3525 slot. You receive all its shares, set a price per query, and earn whenever it is used."
      />
      <ul className="grid grid-cols-1 gap-4 md:grid-cols-3">
        {KINDS.map((kind) => (
          <li key={kind.name}>
            <Link
              href={kind.href}
              className="flex h-full flex-col rounded-xl border border-line bg-white p-5 shadow-sm transition-shadow hover:border-brand-200 hover:shadow-md"
            >
              <h2 className="text-base font-semibold text-ink">List {/^[aeiou]/i.test(kind.name) ? "an" : "a"} {kind.name.toLowerCase()}</h2>
              <p className="mt-2 flex-1 text-sm leading-6 text-muted">{kind.text}</p>
              <span className="mt-4 text-sm font-medium text-brand-700">Start →</span>
            </Link>
          </li>
        ))}
      </ul>
      <MyListings />
    </div>
  );
}
