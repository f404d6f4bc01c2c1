// Signer recovery and signing with libsecp256k1, through the `secp256k1` package's native binding (its
// prebuilt addon; no compiler needed). A paid message checks one voucher signature, and viem's JavaScript
// recovery took 2.4 ms of CPU for it on a 2-core machine, about a tenth of the message's server time;
// libsecp256k1 takes under 0.1 ms. An API request also signs its voucher with the key's session key
// (0.9 ms in viem, 0.1 ms here). Both sign by RFC 6979, so the signatures are the same bytes for every
// digest below the curve order, which a keccak digest is but for a chance of 2^-128 (above it both are
// valid low-s signatures; noble reduces the digest before deriving the nonce, libsecp256k1 does not).
// Only the binding is loaded, never the package's JavaScript fallback: where the addon cannot load
// (another platform), viem, the reference, does the work and the server says so once.
// tests/unit/secp256k1.test.ts compares them.
import { bytesToHex, hexToBytes, recoverAddress, type Address, type Hex } from "viem";
import { sign } from "viem/accounts";
import type { RecoverSigner } from "@/lib/protocol";
import { serverKeccak } from "./keccak";

interface Binding {
  ecdsaRecover(signature: Uint8Array, recid: number, message: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}

let binding: Promise<Binding | null> | undefined;

function loadBinding(): Promise<Binding | null> {
  binding ??= import("secp256k1/bindings.js").then(
    (module) => (module.default ?? (module as unknown as Binding)),
    (error: unknown) => {
      console.warn(`libsecp256k1 is not available here, signatures are recovered and made in JavaScript: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    },
  );
  return binding;
}

/** The signer of `digest` (32 bytes) under `signature` (65 bytes r ‖ s ‖ v, v 27 or 28 or 0 or 1); throws when none can be recovered. */
export const recoverSigner: RecoverSigner = async (digest, signature) => {
  const lib = await loadBinding();
  if (!lib) return recoverAddress({ hash: digest, signature });
  if (!/^0x[0-9a-fA-F]{64}$/.test(digest)) throw new Error("the digest is not 32 bytes");
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Error("the signature is not 65 bytes");
  const bytes = hexToBytes(signature);
  const v = bytes[64];
  const recid = v >= 27 ? v - 27 : v;
  if (recid !== 0 && recid !== 1) throw new Error(`the signature's v (${v}) is not 27 or 28`);
  const publicKey = lib.ecdsaRecover(bytes.subarray(0, 64), recid, hexToBytes(digest), false);
  return `0x${bytesToHex((await serverKeccak())(publicKey.subarray(1))).slice(-40)}` as Address;
};

/** `digest` (32 bytes) signed with `privateKey`: 65 bytes r ‖ s ‖ v, low s, v 27 or 28 (the form the contract takes). */
export async function signDigest(digest: Hex, privateKey: Hex): Promise<Hex> {
  const lib = await loadBinding();
  if (!lib) return sign({ hash: digest, privateKey, to: "hex" });
  if (!/^0x[0-9a-fA-F]{64}$/.test(digest)) throw new Error("the digest is not 32 bytes");
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new Error("the private key is not 32 bytes");
  const { signature, recid } = lib.ecdsaSign(hexToBytes(digest), hexToBytes(privateKey));
  return `${bytesToHex(signature)}${(27 + recid).toString(16)}`;
}

/** Whether libsecp256k1 is in use (false: viem's recovery). */
export async function nativeRecovery(): Promise<boolean> {
  return (await loadBinding()) !== null;
}
