// Amounts in token units, for the chat's messages and checks.
export interface TokenInfo {
  symbol: string;
  decimals: number;
}

export function formatAmount(value: string | bigint, token: TokenInfo): string {
  const v = typeof value === "bigint" ? value : BigInt(value);
  const base = 10n ** BigInt(token.decimals);
  const whole = v / base;
  const fraction = (v % base).toString().padStart(token.decimals, "0").replace(/0+$/, "");
  return `${whole}${fraction ? `.${fraction}` : ""} ${token.symbol}`;
}
