import { z } from "@/lib/zod";

const uint = z.string().regex(/^\d{1,40}$/, "must be a non-negative integer as a decimal string");
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be an address");

export const sessionBodySchema = z.object({
  payer: address,
  /** The browser-held session key's address. */
  key: address,
  spendCap: uint,
  expiry: uint,
  nonce: uint,
  /** The wallet's EIP-712 signature of the Session (65 bytes, or longer for contract wallets). */
  signature: z.string().regex(/^0x[0-9a-fA-F]{130,}$/, "must be a hex signature").max(20_000),
});
