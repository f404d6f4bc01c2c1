// Receipts: the session key signs one Receipt per query (no wallet pop-up).
import {
  hashStruct,
  hashTypedData,
  isAddressEqual,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { LIMITS, receiptTypes, settlementDomain } from "./eip712";
import type { SettlementContext } from "./session";

export interface Receipt {
  payer: Address;
  slots: bigint[];
  maxAmounts: bigint[];
  nonce: bigint;
  deadline: bigint;
}

function checkReceipt(receipt: Receipt): void {
  if (receipt.slots.length === 0 || receipt.slots.length > 255) throw new RangeError("a receipt charges 1..255 slots");
  if (receipt.slots.length !== receipt.maxAmounts.length) throw new RangeError("slots and maxAmounts differ in length");
  for (const slot of receipt.slots) if (slot <= 0n || slot > LIMITS.slotId) throw new RangeError("slot id must fit uint64 and be > 0");
  for (const max of receipt.maxAmounts) if (max < 0n || max > LIMITS.amount) throw new RangeError("maxAmount must fit uint96");
  if (receipt.nonce < 0n || receipt.nonce > LIMITS.receiptNonce) throw new RangeError("receipt nonce must fit uint64");
  if (receipt.deadline < 0n || receipt.deadline > LIMITS.deadline) throw new RangeError("deadline must fit uint40");
}

/** EIP-712 struct hash of a receipt. */
export function hashReceipt(receipt: Receipt): Hex {
  return hashStruct({ data: receipt, primaryType: "Receipt", types: receiptTypes });
}

/** The digest the session key signs. */
export function receiptDigest(ctx: SettlementContext, receipt: Receipt): Hex {
  return hashTypedData({
    domain: settlementDomain(ctx.chainId, ctx.settlement),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
}

/** Signs a receipt with the session key (a viem local account, e.g. `privateKeyToAccount`). */
export async function signReceipt(sessionKey: LocalAccount, ctx: SettlementContext, receipt: Receipt): Promise<Hex> {
  checkReceipt(receipt);
  return sessionKey.signTypedData({
    domain: settlementDomain(ctx.chainId, ctx.settlement),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
}

/** The key that signed `signature` over `receipt`. */
export async function recoverReceiptSigner(ctx: SettlementContext, receipt: Receipt, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({
    domain: settlementDomain(ctx.chainId, ctx.settlement),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
    signature,
  });
}

/** Whether `signature` over `receipt` is by `key` (the session key). */
export async function verifyReceipt(ctx: SettlementContext, receipt: Receipt, signature: Hex, key: Address): Promise<boolean> {
  try {
    return isAddressEqual(await recoverReceiptSigner(ctx, receipt, signature), key);
  } catch {
    return false;
  }
}
