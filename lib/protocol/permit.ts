// EIP-2612 permits for the payment token: one wallet signature instead of an approval transaction, so
// a deposit is one signature and one transaction (KipSettlement.depositWithPermit). Browser and server.
import { parseSignature, type Address, type Hex, type TypedDataDomain } from "viem";

export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface PermitMessage {
  owner: Address;
  spender: Address;
  value: bigint;
  nonce: bigint;
  deadline: bigint;
}

/** The token's domain from its ERC-5267 `eip712Domain()` answer. */
export function permitDomain(eip712Domain: readonly [Hex, string, string, bigint, Address, Hex, readonly bigint[]]): TypedDataDomain {
  const [, name, version, chainId, verifyingContract] = eip712Domain;
  return { name, version, chainId: Number(chainId), verifyingContract };
}

/** v, r, s of a 65-byte permit signature, as depositWithPermit takes them. */
export function splitPermitSignature(signature: Hex): { v: number; r: Hex; s: Hex } {
  const { r, s, v, yParity } = parseSignature(signature);
  return { v: Number(v ?? BigInt(27 + (yParity ?? 0))), r, s };
}
