"use client";
// The creator sets a new price per query (KipAssets.setPrice, from the creator's wallet).
import { useId, useState, type FormEvent } from "react";
import { parseUnits, type Address } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { formatAmount, type TokenDisplay } from "@/lib/chain/format";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";

/** KipAssets stores prices as uint80. */
const MAX_PRICE = (1n << 80n) - 1n;

export function PriceEditor({ slot, current, assets, token, onDone }: { slot: string; current: string; assets: Address; token: TokenDisplay; onDone: () => void }) {
  const id = useId();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const tx = useTransactor();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    const trimmed = text.trim();
    if (!new RegExp(`^[0-9]+(\\.[0-9]{1,${token.decimals}})?$`).test(trimmed)) {
      return setProblem(`Enter a price like 0.002, with at most ${token.decimals} decimals.`);
    }
    const price = parseUnits(trimmed, token.decimals);
    if (price > MAX_PRICE) return setProblem("That price is too large.");
    if (price.toString() === current) return setProblem("That is already the price.");
    const receipt = await tx.write({ address: assets, abi: kipAssetsAbi, functionName: "setPrice", args: [BigInt(slot), price] });
    if (receipt) {
      setText("");
      onDone();
    }
  }

  return (
    <form onSubmit={submit} className="space-y-3" aria-label="Change the price per query">
      <label htmlFor={`${id}-price`} className="block text-sm font-medium text-ink">
        New price per query ({token.symbol}); now {formatAmount(current, token)}
      </label>
      <div className="flex flex-wrap gap-2">
        <input id={`${id}-price`} inputMode="decimal" value={text} onChange={(e) => setText(e.target.value)} placeholder="0.002" className="w-40 rounded-lg border border-line px-3 py-2 font-mono text-sm" />
        <button type="submit" disabled={tx.busy} className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-brand-800 disabled:opacity-60">
          Set price
        </button>
      </div>
      <p className="text-xs text-muted">Receipts already signed at the old price still settle at most what their payer signed for.</p>
      {problem ? (
        <p role="alert" className="text-sm text-red-700">
          {problem}
        </p>
      ) : null}
      <TransactionStatus state={tx} minedText="Price updated on chain." />
    </form>
  );
}
