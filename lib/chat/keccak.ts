// keccak256 with the `keccak` package's native binding (its prebuilt addon; no compiler needed). A paid
// message hashes its voucher (EIP-712), its charges, the recovered key and its record (the question and
// the whole answer): viem's JavaScript keccak took about 90 µs for a 1.2 KB record on the chat
// benchmark's machine, the binding under 20. Only the binding is loaded, never the package's JavaScript
// fallback: where the addon cannot load (another platform), viem's keccak does the work and the server
// says so once. tests/unit/keccak.test.ts compares the two.
import { viemKeccak256, type Keccak256 } from "@/lib/protocol";

let loaded: Promise<Keccak256> | undefined;

/** The server's keccak256: the native binding's, else viem's. */
export function serverKeccak(): Promise<Keccak256> {
  loaded ??= import("keccak/bindings.js").then(
    (module) => {
      const create = module.default ?? (module as unknown as typeof module.default);
      return (data: Uint8Array) => {
        const digest = create("keccak256").update(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).digest();
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
      };
    },
    (error: unknown) => {
      console.warn(`the native keccak is not available here, hashes are computed in JavaScript: ${error instanceof Error ? error.message : String(error)}`);
      return viemKeccak256;
    },
  );
  return loaded;
}

/** Whether the native binding is in use (false: viem's keccak). */
export async function nativeKeccak(): Promise<boolean> {
  return (await serverKeccak()) !== viemKeccak256;
}
