// The KipLicences.publishVersion call a draft licence version asks its creator's wallet to send: the
// server drafts it (service.ts), and the licence form, the demo seed and the tests send it.
import type { Address, Hex } from "viem";
import { kipLicencesAbi } from "@/lib/chain/generated";

/** The transaction POST /api/listings/:id/licences hands back with a draft version. */
export interface LicenceDraftTransaction {
  licences: Address;
  slot: number;
  price: string;
  upgradePrice: string;
  termsHash: Hex;
  filesHash: Hex;
}

/** The publishVersion call for a draft's transaction, for any wallet client's writeContract. */
export function publishVersionCall(t: LicenceDraftTransaction) {
  return {
    address: t.licences,
    abi: kipLicencesAbi,
    functionName: "publishVersion" as const,
    args: [BigInt(t.slot), BigInt(t.price), BigInt(t.upgradePrice), t.termsHash, t.filesHash] as const,
  };
}
