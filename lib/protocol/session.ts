// Sessions: the payer's wallet signs one Session that authorizes a browser-held key, for one operator.
import {
  hashStruct,
  hashTypedData,
  recoverTypedDataAddress,
  type Address,
  type Hex,
  type LocalAccount,
  type WalletClient,
} from "viem";
import { LIMITS, sessionTypes, settlementDomain } from "./eip712";
import { isSignedByKey } from "./signature";

export interface Session {
  payer: Address;
  key: Address;
  /** The only account that can settle this session's vouchers (the server's settlement account). */
  operator: Address;
  spendCap: bigint;
  expiry: bigint;
  nonce: bigint;
}

export interface SettlementContext {
  chainId: number;
  settlement: Address;
}

export function checkSession(session: Session): void {
  if (session.spendCap < 0n || session.spendCap > LIMITS.spendCap) throw new RangeError("spendCap must fit uint96");
  if (session.expiry < 0n || session.expiry > LIMITS.expiry) throw new RangeError("expiry must fit uint40");
  if (session.nonce < 0n || session.nonce > LIMITS.sessionNonce) throw new RangeError("session nonce must fit uint64");
}

/** EIP-712 struct hash: the session's id in KipSettlement (`Voucher.session`, `revokedAt`, `walletApproved`). */
export function hashSession(session: Session): Hex {
  return hashStruct({ data: session, primaryType: "Session", types: sessionTypes });
}

/** The digest the wallet signs. */
export function sessionDigest(ctx: SettlementContext, session: Session): Hex {
  return hashTypedData({ domain: settlementDomain(ctx.chainId, ctx.settlement), types: sessionTypes, primaryType: "Session", message: session });
}

/** Signs a session with the payer's wallet (a local account or a wallet client holding `session.payer`). */
export async function signSession(signer: LocalAccount | WalletClient, ctx: SettlementContext, session: Session): Promise<Hex> {
  checkSession(session);
  const typedData = {
    domain: settlementDomain(ctx.chainId, ctx.settlement),
    types: sessionTypes,
    primaryType: "Session" as const,
    message: session,
  };
  if (signer.type === "local") return (signer as LocalAccount).signTypedData(typedData);
  const client = signer as WalletClient;
  return client.signTypedData({ ...typedData, account: client.account ?? session.payer });
}

/** The address that signed `signature` over `session` (an EOA; smart-account sessions verify on chain). */
export async function recoverSessionSigner(ctx: SettlementContext, session: Session, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({
    domain: settlementDomain(ctx.chainId, ctx.settlement),
    types: sessionTypes,
    primaryType: "Session",
    message: session,
    signature,
  });
}

/** Whether `signature` is the payer's EOA signature of `session`, in the one form the contract accepts. */
export async function verifySession(ctx: SettlementContext, session: Session, signature: Hex): Promise<boolean> {
  let digest: Hex;
  try {
    digest = sessionDigest(ctx, session);
  } catch {
    return false;
  }
  return isSignedByKey(digest, signature, session.payer);
}
