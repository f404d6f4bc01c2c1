// The keccak256 the protocol's hashes are computed with. Shared by browser and server: viem's by default.
import { keccak256 } from "viem";

/**
 * keccak256 of some bytes, its 32 bytes back. viem's (JavaScript, in the browser and by default); the
 * server passes the native binding's (lib/chat/keccak.ts), several times faster on a paid message's
 * hashes. Both compute the same function; tests/unit/keccak.test.ts compares them.
 */
export type Keccak256 = (data: Uint8Array) => Uint8Array;

export const viemKeccak256: Keccak256 = (data) => keccak256(data, "bytes");
