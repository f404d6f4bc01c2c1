// The slot metadata document (ERC-3525 slot metadata shape). Its exact bytes are served at the slot URI
// and their keccak256 is stored on chain as the slot's content hash, so anyone can check what a slot
// points to. It holds only what never changes for a listing; price and active flag live on chain.
import { keccak256, toBytes, type Hex } from "viem";

export type ListingKind = "dataset" | "model" | "app";

export const KIND_TO_CHAIN: Record<ListingKind, number> = { dataset: 0, model: 1, app: 2 };
export const CHAIN_TO_KIND: readonly ListingKind[] = ["dataset", "model", "app"];

export interface SlotMetadataInput {
  listingId: string;
  kind: ListingKind;
  name: string;
  description: string;
  creator: Hex;
  /** Kind-specific facts worth committing to (e.g. a dataset's document hashes, an app's model and datasets). */
  properties?: Record<string, string | number | boolean | string[]>;
  externalUrl?: string;
  /** The kind's image (kindImageUrl). */
  image?: string;
}

export function buildSlotMetadata(input: SlotMetadataInput): { json: string; contentHash: Hex } {
  const document = {
    name: input.name,
    description: input.description,
    image: input.image ?? "",
    ...(input.externalUrl ? { external_url: input.externalUrl } : {}),
    properties: {
      listing_id: input.listingId,
      kind: input.kind,
      creator: input.creator,
      ...input.properties,
    },
  };
  const json = JSON.stringify(document);
  return { json, contentHash: keccak256(toBytes(json)) };
}

export function listingMetadataUri(appUrl: string, listingId: string): string {
  return `${appUrl.replace(/\/$/, "")}/api/metadata/listings/${listingId}`;
}

/** Where the kind's image is served: wallets and marketplaces show it for slots and tokens. */
export function kindImageUrl(appUrl: string, kind: ListingKind): string {
  return `${appUrl.replace(/\/$/, "")}/api/metadata/images/${kind}`;
}

const KIND_ART: Record<ListingKind, { label: string; from: string; to: string; glyph: string }> = {
  // A stack of pages, a network of nodes and a window: drawn with plain shapes, no fonts needed.
  dataset: {
    label: "Dataset",
    from: "#0f766e",
    to: "#134e4a",
    glyph: '<rect x="150" y="120" width="200" height="240" rx="16" fill="#ffffff" opacity="0.25"/><rect x="170" y="140" width="200" height="240" rx="16" fill="#ffffff" opacity="0.5"/><rect x="190" y="160" width="200" height="240" rx="16" fill="#ffffff"/><g fill="#134e4a"><rect x="215" y="200" width="150" height="12" rx="6"/><rect x="215" y="235" width="120" height="12" rx="6"/><rect x="215" y="270" width="150" height="12" rx="6"/><rect x="215" y="305" width="90" height="12" rx="6"/></g>',
  },
  model: {
    label: "Model",
    from: "#6d28d9",
    to: "#3b0764",
    glyph: '<g stroke="#ffffff" stroke-width="10" opacity="0.8"><line x1="170" y1="170" x2="256" y2="256"/><line x1="342" y1="170" x2="256" y2="256"/><line x1="170" y1="342" x2="256" y2="256"/><line x1="342" y1="342" x2="256" y2="256"/><line x1="170" y1="170" x2="342" y2="170"/><line x1="170" y1="342" x2="342" y2="342"/></g><g fill="#ffffff"><circle cx="170" cy="170" r="30"/><circle cx="342" cy="170" r="30"/><circle cx="170" cy="342" r="30"/><circle cx="342" cy="342" r="30"/><circle cx="256" cy="256" r="42"/></g>',
  },
  app: {
    label: "App",
    from: "#1d4ed8",
    to: "#172554",
    glyph: '<rect x="130" y="140" width="252" height="232" rx="24" fill="#ffffff"/><rect x="130" y="140" width="252" height="52" rx="24" fill="#bfdbfe"/><g fill="#1d4ed8"><circle cx="165" cy="166" r="9"/><circle cx="193" cy="166" r="9"/><rect x="160" y="225" width="150" height="18" rx="9"/><rect x="200" y="265" width="150" height="18" rx="9" opacity="0.6"/><rect x="160" y="305" width="110" height="18" rx="9"/></g>',
  },
};

/** The kind's image: a small SVG, the same bytes every time. */
export function kindImageSvg(kind: ListingKind): string {
  const art = KIND_ART[kind];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512" role="img" aria-label="KIP ${art.label}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${art.from}"/><stop offset="1" stop-color="${art.to}"/></linearGradient></defs><rect width="512" height="512" rx="64" fill="url(#g)"/>${art.glyph}</svg>`;
}
