// The demo's licence, seeded once the app is up: the data owner sells the raw file behind "The Art of
// War" knowledge base under a licence. It goes the way a creator's browser and wallet go (sign-in with
// Ethereum, a tus upload, a draft version, KipLicences.publishVersion from the owner's wallet, and the
// server's confirmation from the mined event), so the files are checked, hashed and stored encrypted by
// the app itself.
import fs from "node:fs";
import path from "node:path";
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Deployment } from "../../lib/chain/deployment";
import { createDb } from "../../lib/db-client";
import { signInOverHttp } from "../stack/siwe";
import { publishVersionCall, type LicenceDraftTransaction } from "../../lib/licences/publish";
import { uploadWhole } from "../stack/uploads";
import { ART_OF_WAR, DEMO_ACCOUNTS, SEED_DIR } from "./demo";

const TERMS = `Licence for the raw text of "The Art of War" (Giles, 1910), as used by this knowledge base.

The translation is in the public domain. This licence covers the prepared file: you may use, copy and
modify it for any purpose, including commercial use and training models. It comes as is, with no warranty.`;

interface LicenceSeedOptions {
  appUrl: string;
  env: Record<string, string>;
  deployment: Deployment;
  log: (line: string) => void;
}

/** Publishes the demo licence unless the demo dataset is missing or already has a licence version. */
export async function seedDemoLicence({ appUrl, env, deployment, log }: LicenceSeedOptions): Promise<boolean> {
  const owner = privateKeyToAccount(DEMO_ACCOUNTS.dataOwner);
  const db = createDb(env.DATABASE_URL);
  let listingId: string;
  try {
    const listing = await db.listing.findFirst({
      where: { chainId: deployment.chainId, assets: deployment.assets, kind: "dataset", name: ART_OF_WAR.name, creator: owner.address, status: "listed" },
      select: { id: true, _count: { select: { licenceVersions: true } } },
    });
    if (!listing || listing._count.licenceVersions > 0) return false;
    listingId = listing.id;
  } finally {
    await db.$disconnect();
  }
  const cookie = await signInOverHttp(appUrl, deployment.chainId, owner);
  const upload = await uploadWhole(appUrl, cookie, ART_OF_WAR.file, fs.readFileSync(path.join(SEED_DIR, ART_OF_WAR.file)));
  const post = async (route: string, body: unknown) => {
    const response = await fetch(`${appUrl}${route}`, { method: "POST", headers: { cookie, "content-type": "application/json", origin: appUrl }, body: JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`demo licence: ${route} answered ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const draft = (await post(`/api/listings/${listingId}/licences`, { terms: TERMS, price: "0.5", upgradePrice: "0.1", files: [{ upload }] })) as {
    id: string;
    transaction: LicenceDraftTransaction;
  };
  const wallet = createWalletClient({ account: owner, transport: http(env.RPC_URL) });
  const hash = await wallet.writeContract({ chain: null, ...publishVersionCall(draft.transaction) });
  const receipt = await createPublicClient({ transport: http(env.RPC_URL) }).waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`demo licence: publishVersion failed (tx ${hash})`);
  await post(`/api/listings/${listingId}/licences/confirm`, { versionId: draft.id, txHash: hash });
  log(`demo data: "${ART_OF_WAR.name}" sells its raw file under a licence (0.5 mUSD)`);
  return true;
}
