import "server-only";
// Token and contract metadata in the ERC-3525 / ERC-721 metadata shapes, served at the URIs KipAssets
// returns from tokenURI ("<base>tokens/<id>") and contractURI ("<base>contract"). Every figure is read
// from the chain at one block; the database adds only the listing's name and description.
import { getAddress, type Address } from "viem";
import { readDeployment } from "@/lib/chain/deployment";
import { SHARES_PER_SLOT } from "@/lib/chain/earnings";
import { formatAmount } from "@/lib/chain/format";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { serverPublicClient } from "@/lib/chain/server-client";
import { readTokenInfo } from "@/lib/chain/token";
import { getDb } from "@/lib/db";
import { serverEnv } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { CHAIN_TO_KIND, kindImageUrl } from "@/lib/listings/metadata";


function deployment() {
  const env = serverEnv();
  try {
    return readDeployment(env.CHAIN_ID, env.DEPLOYMENTS_FILE);
  } catch (error) {
    throw new AppError("upstream_unavailable", `The contracts are not deployed on chain ${env.CHAIN_ID}.`, { cause: error });
  }
}

export async function tokenMetadata(tokenId: bigint) {
  const env = serverEnv();
  const { assets } = deployment();
  const client = serverPublicClient();
  const address = assets as Address;
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
  const read = <T>(functionName: "ownerOf" | "slotOf" | "balanceOf", args: readonly [bigint]) =>
    client.readContract({ address, abi: kipAssetsAbi, functionName, args, blockNumber } as never) as Promise<T>;
  let owner: Address;
  try {
    owner = await read<Address>("ownerOf", [tokenId]);
  } catch (error) {
    // A token that does not exist reverts; a node that is down does not.
    if (error instanceof Error && /revert/i.test(error.message)) throw new AppError("not_found", `Token ${tokenId} does not exist.`);
    throw new AppError("upstream_unavailable", "The chain cannot be reached right now.", { cause: error });
  }
  const [slot, shares] = await Promise.all([read<bigint>("slotOf", [tokenId]), read<bigint>("balanceOf", [tokenId])]);
  const [info, token, listing] = await Promise.all([
    client.readContract({ address, abi: kipAssetsAbi, functionName: "slotInfo", args: [slot], blockNumber }),
    readTokenInfo((await client.readContract({ address, abi: kipAssetsAbi, functionName: "paymentToken", blockNumber })) as Address),
    getDb().listing.findFirst({
      where: { chainId: env.CHAIN_ID, assets: getAddress(assets), slotId: Number(slot), status: "listed" },
      select: { id: true, name: true, description: true },
    }),
  ]);
  const kind = CHAIN_TO_KIND[Number(info.kind)] ?? "dataset";
  const name = listing?.name ?? `Slot ${slot}`;
  const percent = Number((shares * 1_000_000n) / SHARES_PER_SLOT) / 10_000;
  return {
    name: `${name} · revenue shares #${tokenId}`,
    description:
      `${percent}% of the revenue of the ${kind} "${name}" on the KIP marketplace: this token earns that share of every query ` +
      `the asset serves, claimable by its owner.${listing?.description ? `\n\n${listing.description}` : ""}`,
    image: kindImageUrl(env.APP_URL, kind),
    ...(listing ? { external_url: `${env.APP_URL.replace(/\/$/, "")}/listings/${listing.id}` } : {}),
    balance: shares.toString(),
    slot: Number(slot),
    properties: {
      slot: Number(slot),
      kind,
      owner: getAddress(owner),
      shares: shares.toString(),
      share_percent: percent,
      price_per_query: token ? formatAmount(info.pricePerQuery, token) : info.pricePerQuery.toString(),
      price_per_query_units: info.pricePerQuery.toString(),
      active: info.active,
      creator: getAddress(info.creator),
      slot_uri: info.uri,
      slot_content_hash: info.contentHash,
      read_at_block: Number(blockNumber),
    },
  };
}

export function contractMetadata() {
  const env = serverEnv();
  return {
    name: "KIP Marketplace assets",
    description:
      "Datasets, models and apps listed on the KIP marketplace. Each listing is an ERC-3525 slot; its tokens hold the listing's " +
      `revenue shares (${SHARES_PER_SLOT.toLocaleString("en-US")} per slot), which can be split and transferred and earn a share of every paid query.`,
    image: kindImageUrl(env.APP_URL, "app"),
    external_link: env.APP_URL,
    // KipAssets.valueDecimals(): 1,000,000 shares (value 10^6) are one whole asset.
    valueDecimals: 6,
  };
}
