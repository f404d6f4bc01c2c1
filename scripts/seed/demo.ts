// Demo content for a local chain, seeded once: two public-domain knowledge bases, the built-in offline
// model, and one app that uses them, each listed on chain as an ERC-3525 slot by its own creator
// account; and mUSD minted to the demo accounts (the development wallet among them). Once the app is up,
// ./licence.ts adds a licence for one knowledge base's raw file.
import fs from "node:fs";
import path from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEventLogs,
  parseUnits,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Deployment } from "../../lib/chain/deployment";
import { kipAssetsAbi, mockUsdAbi } from "../../lib/chain/generated";
import { createDb, type Db } from "../../lib/db-client";
import { isLocalChain } from "../../lib/env";
import { KIND_TO_CHAIN, buildSlotMetadata, kindImageUrl, listingMetadataUri, type ListingKind } from "../../lib/listings/metadata";
import { OFFLINE_MODEL_NAME } from "../../lib/ai/offline";
import { BM25_RETRIEVER } from "../../lib/rag/bm25";
import { indexPendingDocuments, prepareDocuments, storeDocuments } from "../../lib/rag/ingest";
import { ANVIL_KEYS } from "../stack/anvil";

export const SEED_DIR = path.resolve(import.meta.dirname, "..", "..", "prisma", "seed");

/** Demo roles (anvil accounts). #1 is the development wallet in the browser. */
export const DEMO_ACCOUNTS = {
  devWallet: ANVIL_KEYS[1],
  dataOwner: ANVIL_KEYS[2],
  modelCreator: ANVIL_KEYS[3],
  appDeveloper: ANVIL_KEYS[4],
} as const;

/** The demo knowledge base whose raw file is also sold under a licence (./licence.ts). */
export const ART_OF_WAR = { name: "The Art of War (Giles, 1910)", file: "art-of-war.txt" } as const;

const FUNDED = [ANVIL_KEYS[1], ANVIL_KEYS[2], ANVIL_KEYS[3], ANVIL_KEYS[4], ANVIL_KEYS[5]];

interface SeedOptions {
  env: Record<string, string>;
  deployment: Deployment;
  log: (line: string) => void;
}

export async function seedDemo({ env, deployment, log }: SeedOptions): Promise<boolean> {
  const chainId = deployment.chainId;
  if (!isLocalChain(chainId) && env.SEED_DEMO !== "force") {
    log(`demo data is only seeded on a local chain (set SEED_DEMO=force to seed chain ${chainId})`);
    return false;
  }
  const db = createDb(env.DATABASE_URL);
  try {
    const existing = await db.listing.count({ where: { chainId, assets: deployment.assets, status: "listed" } });
    if (existing > 0) return false;
    const publicClient = createPublicClient({ transport: http(env.RPC_URL) });

    if (deployment.paymentTokenIsMock) {
      const minter = createWalletClient({ account: privateKeyToAccount(ANVIL_KEYS[0]), transport: http(env.RPC_URL) });
      for (const key of FUNDED) {
        const hash = await minter.writeContract({
          chain: null,
          address: deployment.paymentToken as Hex,
          abi: mockUsdAbi,
          functionName: "mint",
          args: [privateKeyToAccount(key).address, parseUnits("1000", 6)],
        });
        await publicClient.waitForTransactionReceipt({ hash });
      }
      log("demo data: minted 1,000 mUSD to anvil accounts #1-#5");
    }

    const lister = { db, publicClient, env, deployment };
    const artOfWar = await listDataset(lister, {
      key: DEMO_ACCOUNTS.dataOwner,
      name: ART_OF_WAR.name,
      description: "Sun Tzu's treatise in Lionel Giles' 1910 English translation, chapters I–V (excerpts). Public domain.",
      license: "Public domain",
      file: ART_OF_WAR.file,
      price: "0.002",
      tags: ["classics", "strategy", "public domain"],
    });
    const gettysburg = await listDataset(lister, {
      key: DEMO_ACCOUNTS.dataOwner,
      name: "The Gettysburg Address (1863)",
      description: "Abraham Lincoln's address at Gettysburg, November 19, 1863 (Bliss copy). Public domain.",
      license: "Public domain",
      file: "gettysburg-address.txt",
      price: "0.001",
      tags: ["history", "speeches", "public domain"],
    });
    const model = await listListing(lister, {
      key: DEMO_ACCOUNTS.modelCreator,
      kind: "model",
      name: "Offline extractive model",
      description:
        "A model that needs no weights and no network: it answers by quoting the retrieved passages that best match the question. Honest, fast, and limited to what the sources say.",
      price: "0.003",
      tags: ["offline", "extractive"],
      properties: { provider: "offline", model: OFFLINE_MODEL_NAME },
      details: (listingId) => db.modelEndpoint.create({ data: { listingId, provider: "offline", modelName: OFFLINE_MODEL_NAME } }),
    });
    await listListing(lister, {
      key: DEMO_ACCOUNTS.appDeveloper,
      kind: "app",
      name: "Classics Tutor",
      description: "Ask about Sun Tzu's Art of War or Lincoln's Gettysburg Address; every answer cites its passages.",
      price: "0.004",
      tags: ["tutor", "classics", "history"],
      properties: { model: model.id, datasets: [artOfWar.id, gettysburg.id] },
      details: (listingId) =>
        db.app.create({
          data: {
            listingId,
            systemPrompt:
              "You are a tutor for classic texts. Answer only from the provided sources, quote them briefly, and cite them as [1], [2]. If the sources do not answer the question, say so.",
            modelId: model.id,
            datasets: { create: [{ datasetId: artOfWar.id }, { datasetId: gettysburg.id }] },
          },
        }),
    });
    return true;
  } finally {
    await db.$disconnect();
  }
}

interface Lister {
  db: Db;
  publicClient: PublicClient;
  env: Record<string, string>;
  deployment: Deployment;
}

interface ListingSeed {
  key: Hex;
  kind: ListingKind;
  name: string;
  description: string;
  price: string;
  tags: string[];
  properties?: Record<string, string | number | boolean | string[]>;
  details: (listingId: string) => Promise<unknown>;
}

async function listListing({ db, publicClient, env, deployment }: Lister, seed: ListingSeed) {
  const account = privateKeyToAccount(seed.key);
  const listing = await db.listing.create({
    data: {
      chainId: deployment.chainId,
      assets: deployment.assets,
      kind: seed.kind,
      creator: account.address,
      name: seed.name,
      description: seed.description,
      pricePerQuery: parseUnits(seed.price, 6).toString(),
      tags: JSON.stringify(seed.tags),
      metadataJson: "",
      contentHash: "",
    },
  });
  await seed.details(listing.id);
  const { json, contentHash } = buildSlotMetadata({
    listingId: listing.id,
    kind: seed.kind,
    name: seed.name,
    description: seed.description,
    creator: account.address,
    externalUrl: `${env.APP_URL.replace(/\/$/, "")}/listings/${listing.id}`,
    image: kindImageUrl(env.APP_URL, seed.kind),
    properties: { ...seed.properties, tags: seed.tags },
  });
  const wallet = createWalletClient({ account, transport: http(env.RPC_URL) });
  const hash = await wallet.writeContract({
    chain: null,
    address: deployment.assets as Hex,
    abi: kipAssetsAbi,
    functionName: "list",
    args: [KIND_TO_CHAIN[seed.kind], parseUnits(seed.price, 6), listingMetadataUri(env.APP_URL, listing.id), contentHash],
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  const [event] = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs });
  if (receipt.status !== "success" || !event) throw new Error(`listing "${seed.name}" failed (tx ${hash})`);
  return db.listing.update({
    where: { id: listing.id },
    data: { metadataJson: json, contentHash, slotId: Number(event.args.slot), listTxHash: hash, status: "listed" },
  });
}

async function listDataset(
  lister: Lister,
  seed: { key: Hex; name: string; description: string; license: string; file: string; price: string; tags: string[] },
) {
  const content = fs.readFileSync(path.join(SEED_DIR, seed.file));
  const { db } = lister;
  let datasetHash = "";
  let documentHash = "";
  return listListing(lister, {
    key: seed.key,
    kind: "dataset",
    name: seed.name,
    description: seed.description,
    price: seed.price,
    tags: seed.tags,
    get properties() {
      return { license: seed.license, embedder: BM25_RETRIEVER, content_hash: datasetHash, documents: [documentHash] };
    },
    details: async (listingId) => {
      await db.dataset.create({ data: { listingId, license: seed.license, embedder: BM25_RETRIEVER, status: "indexing" } });
      // The same path as an upload: checked and extracted, stored encrypted, then indexed.
      const documents = await prepareDocuments([{ filename: seed.file, content }]);
      await storeDocuments(db, listingId, documents, lister.env.ENCRYPTION_KEY);
      await indexPendingDocuments(db, listingId, lister.env.ENCRYPTION_KEY);
      const dataset = await db.dataset.findUniqueOrThrow({ where: { listingId } });
      datasetHash = dataset.contentHash;
      documentHash = `sha256:${documents[0].sha256}`;
    },
  });
}
