// The signatures KipSettlement accepts, checked the way it checks them, so the server never admits a
// payment the contract will refuse. From a key (the session key's vouchers, an EOA payer's session) the
// contract takes one form only: OpenZeppelin's ECDSA.tryRecover, 65 bytes r ‖ s ‖ v with v 27 or 28 and s
// in the lower half of the curve order. viem's recovery also takes v 0 or 1 and high s, so a payer who
// flips v or s of a valid signature would otherwise be admitted and refused at settlement: answered for
// free. A payer with code (a smart wallet) is asked with ERC-1271 `isValidSignature` within the gas the
// contract gives it; ERC-6492 signatures of wallets not yet deployed are not accepted by the contract.
import {
  BaseError,
  encodeFunctionData,
  HttpRequestError,
  isAddressEqual,
  recoverAddress,
  size,
  TimeoutError,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";

/** Half the secp256k1 group order: the highest `s` the contract accepts. */
const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** Gas the contract gives a wallet's `isValidSignature` (KipSettlement.SESSION_WALLET_GAS). */
export const SESSION_WALLET_GAS = 100_000n;

/** ERC-1271's magic value, left-aligned in the answer's first word, as the contract compares it. */
const ERC1271_MAGIC_WORD = `0x1626ba7e${"00".repeat(28)}`;

const erc1271Abi = [
  {
    type: "function",
    name: "isValidSignature",
    stateMutability: "view",
    inputs: [
      { name: "hash", type: "bytes32" },
      { name: "signature", type: "bytes" },
    ],
    outputs: [{ name: "magicValue", type: "bytes4" }],
  },
] as const;

/** The intrinsic gas of calldata: 4 per zero byte, 16 per other byte. */
function calldataGas(data: Hex): bigint {
  let gas = 0n;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === "00" ? 4n : 16n;
  return gas;
}

/** Whether `signature` has the only form the contract takes from a key: 65 bytes, v 27 or 28, low s. */
export function isCanonicalSignature(signature: Hex): boolean {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return false;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return (v === 27 || v === 28) && s <= HALF_CURVE_ORDER;
}

/**
 * Recovers the address that signed a digest (throws when none can). viem's, in JavaScript, is the
 * reference; the server recovers with libsecp256k1 (lib/chat/secp256k1.ts), 30 times faster.
 */
export type RecoverSigner = (digest: Hex, signature: Hex) => Promise<Address>;

const recoverWithViem: RecoverSigner = (hash, signature) => recoverAddress({ hash, signature });

/** Whether the contract would take `signature` of `digest` as `signer`'s key signature. */
export async function isSignedByKey(digest: Hex, signature: Hex, signer: Address, recover: RecoverSigner = recoverWithViem): Promise<boolean> {
  if (!isCanonicalSignature(signature)) return false;
  try {
    return isAddressEqual(await recover(digest, signature), signer);
  } catch {
    return false;
  }
}

/** The chain could not be asked (as opposed to a wallet that refused or reverted). */
export class ChainUnavailableError extends Error {
  constructor(readonly cause: unknown) {
    super("the chain cannot be reached");
  }
}

/**
 * Whether the contract would take `signature` of `digest` as `payer`'s approval of a session: a key
 * signature of the payer, or, when the payer has code, its `isValidSignature` answering the magic value
 * within SESSION_WALLET_GAS, asked from `caller` (the settlement contract, which asks it then). Throws
 * ChainUnavailableError when the chain cannot be asked.
 */
export async function isSignedByPayer(client: PublicClient, payer: Address, digest: Hex, signature: Hex, caller?: Address): Promise<boolean> {
  if (await isSignedByKey(digest, signature, payer)) return true;
  let code: Hex | undefined;
  try {
    code = await client.getCode({ address: payer });
  } catch (error) {
    throw new ChainUnavailableError(error);
  }
  if (!code || code === "0x") return false;
  const data = encodeFunctionData({ abi: erc1271Abi, functionName: "isValidSignature", args: [digest, signature] });
  // The call's gas is the transaction's intrinsic cost (21,000, and 4 per zero and 16 per other calldata
  // byte) on top of what the contract gives the wallet, so the wallet runs with what it will have then.
  const gas = SESSION_WALLET_GAS + 21_000n + calldataGas(data);
  try {
    const { data: answer } = await client.call({ to: payer, data, gas, account: caller });
    return answer !== undefined && size(answer) >= 32 && answer.slice(0, 66).toLowerCase() === ERC1271_MAGIC_WORD;
  } catch (error) {
    if (error instanceof BaseError && error.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) throw new ChainUnavailableError(error);
    return false; // the wallet reverted or ran out of gas: the contract would refuse it too
  }
}
