// What a licence version commits to on chain (KipLicences), computed the same way in the browser (to check a
// download) and on the server (to draft a version): the terms' keccak256, and `hashFiles` of the file list,
// keccak256(abi.encode((string path, uint256 size, bytes32 sha256)[])) in the listed order.
import { encodeAbiParameters, keccak256, toBytes, type Hex } from "viem";

export interface LicenceFileEntry {
  path: string;
  size: number;
  /** SHA-256 of the file's bytes, 64 hex characters (with or without 0x). */
  sha256: string;
}

const FILE_LIST = [
  {
    type: "tuple[]",
    components: [
      { name: "path", type: "string" },
      { name: "size", type: "uint256" },
      { name: "sha256", type: "bytes32" },
    ],
  },
] as const;

export function sha256Hex(value: string): Hex {
  const hex = value.startsWith("0x") ? value.slice(2) : value;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`not a SHA-256: ${value}`);
  return `0x${hex.toLowerCase()}`;
}

export function licenceFilesHash(files: readonly LicenceFileEntry[]): Hex {
  return keccak256(encodeAbiParameters(FILE_LIST, [files.map((f) => ({ path: f.path, size: BigInt(f.size), sha256: sha256Hex(f.sha256) }))]));
}

export function licenceTermsHash(terms: string): Hex {
  return keccak256(toBytes(terms));
}

/** SHA-256 of bytes in the browser (Web Crypto), as 64 lower-case hex characters. */
export async function sha256OfBytes(bytes: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
