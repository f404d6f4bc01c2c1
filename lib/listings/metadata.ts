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
}

export function buildSlotMetadata(input: SlotMetadataInput): { json: string; contentHash: Hex } {
  const document = {
    name: input.name,
    description: input.description,
    image: "",
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
