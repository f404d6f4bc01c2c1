// A model listed on chain with files for sale under a licence, set up over real HTTP and the chain the way a
// creator's browser and wallet would: tus uploads, a draft version, KipLicences.publishVersion, and the
// server's confirmation from the mined event.
import { parseEventLogs, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { kipAssetsAbi } from "../../lib/chain/generated";
import { publishVersionCall, type LicenceDraftTransaction } from "../../lib/licences/publish";
import type { TestChain } from "./queries";
import type { StackInfo } from "./stack-info";
import { callApp } from "./http";

export { uploadWhole } from "../../scripts/stack/uploads";

export type LicenceFileView = { id: string; path: string; size: number; sha256: string };
export type LicenceVersionView = { id: string; version: number | null; status: string; termsHash: Hex; filesHash: Hex; files: LicenceFileView[] };
export type LicenceDraft = LicenceVersionView & { transaction: LicenceDraftTransaction };

function postJson(appUrl: string, cookie: string, route: string, body: unknown) {
  return callApp(appUrl, cookie, route, { method: "POST", json: body });
}

/** Creates an offline model listing from `creator` and lists it on chain; returns its id, slot and token. */
export async function listModel(stack: StackInfo, chain: TestChain, creator: PrivateKeyAccount, cookie: string, name: string) {
  const created = await postJson(stack.appUrl, cookie, "/api/models", {
    name,
    description: "An offline model whose weights are sold under a licence.",
    tags: ["weights"],
    price: "0.001",
    provider: "offline",
  });
  if (created.status !== 201) throw new Error(`model draft refused: ${JSON.stringify(created.body)}`);
  const tx = created.body.transaction as { kind: number; price: string; uri: string; contentHash: Hex };
  const receipt = await chain.send(creator, { address: chain.assets, abi: kipAssetsAbi, functionName: "list", args: [tx.kind, BigInt(tx.price), tx.uri, tx.contentHash] });
  const [listed] = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs });
  const confirmed = await postJson(stack.appUrl, cookie, `/api/listings/${created.body.id as string}/confirm`, { txHash: receipt.transactionHash });
  if (confirmed.body.status !== "listed") throw new Error(`listing not confirmed: ${JSON.stringify(confirmed.body)}`);
  return { listingId: created.body.id as string, slot: listed.args.slot, tokenId: listed.args.tokenId };
}

/** Drafts a licence version of `listingId` from `files` (uploads or kept file ids); returns the server's answer. */
export async function draftVersion(
  appUrl: string,
  cookie: string,
  listingId: string,
  body: { terms: string; price: string; upgradePrice: string; files: ({ upload: string } | { file: string })[] },
) {
  return postJson(appUrl, cookie, `/api/listings/${listingId}/licences`, body);
}

/** Publishes a draft from the creator's wallet and has the server confirm it; returns the published version. */
export async function publishVersion(appUrl: string, chain: TestChain, creator: PrivateKeyAccount, cookie: string, listingId: string, draft: LicenceDraft): Promise<LicenceVersionView> {
  const receipt = await chain.send(creator, publishVersionCall(draft.transaction));
  const confirmed = await postJson(appUrl, cookie, `/api/listings/${listingId}/licences/confirm`, { versionId: draft.id, txHash: receipt.transactionHash });
  if (confirmed.status !== 200) throw new Error(`version not confirmed: ${JSON.stringify(confirmed.body)}`);
  return confirmed.body as unknown as LicenceVersionView;
}
