import "server-only";
import type { Address } from "viem";
import { readPublicConfig } from "@/lib/chain/public-config";
import { readTokenInfo } from "@/lib/chain/token";
import type { TokenDisplay } from "./common-fields";

/** The payment token's symbol and decimals for the forms (mUSD's when the chain cannot be read). */
export async function tokenForForms(): Promise<TokenDisplay & { known: boolean }> {
  const config = readPublicConfig();
  const info = config.contracts ? await readTokenInfo(config.contracts.paymentToken as Address) : null;
  return info ? { symbol: info.symbol, decimals: info.decimals, known: true } : { symbol: "tokens", decimals: 6, known: false };
}
