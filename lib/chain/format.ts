// Amounts in the payment token's own decimals and symbol, for people. Browser-safe.
import { formatUnits } from "viem";

export interface TokenDisplay {
  symbol: string;
  decimals: number;
}

/** "1,234.5678 mUSD": grouped, at most `maxFraction` decimals (rounded down, never up), trailing zeros cut. */
export function formatAmount(units: bigint | string, token: TokenDisplay, { maxFraction = 6, symbol = true }: { maxFraction?: number; symbol?: boolean } = {}): string {
  const text = formatUnits(BigInt(units), token.decimals);
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  const cut = fraction.slice(0, maxFraction).replace(/0+$/, "");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const amount = `${negative ? "-" : ""}${grouped}${cut ? `.${cut}` : ""}`;
  return symbol ? `${amount} ${token.symbol}` : amount;
}

/** An amount scaled by SHARES_PER_SLOT (1e6): sub-unit earnings, shown with the token's decimals + 6. */
export function formatScaled(scaled: bigint | string, token: TokenDisplay, options?: { maxFraction?: number; symbol?: boolean }): string {
  return formatAmount(scaled, { ...token, decimals: token.decimals + 6 }, options);
}

/** A plain number for charts (loses precision beyond ~15 digits; never used for money paths). */
export function toChartNumber(units: bigint | string, decimals: number): number {
  return Number(formatUnits(BigInt(units), decimals));
}

export function shortHash(hash: string): string {
  return hash.length > 14 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash;
}

export function formatShares(value: bigint | string): string {
  return BigInt(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function formatTime(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
