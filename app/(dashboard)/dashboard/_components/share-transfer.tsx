"use client";
// Send part of a token's shares to an address (a new token in the same slot), into another token of the
// same asset, or hand over the whole token. Value transfers checkpoint both tokens first, so revenue
// already earned stays with the sending token; a whole-token transfer moves its unclaimed revenue too.
import { useId, useState, type FormEvent } from "react";
import { getAddress, isAddress, type Address } from "viem";
import { kipAssetsAbi } from "@/lib/chain/generated";
import { formatAmount, formatShares, type TokenDisplay } from "@/lib/chain/format";
import type { TokenReport } from "@/lib/chain/reports";
import { sharePercent } from "@/lib/chain/earnings";
import { TransactionStatus } from "@/components/web3/transaction-status";
import { useTransactor } from "@/components/web3/use-transactor";

type Mode = "address" | "token" | "whole";

const MODES: { id: Mode; label: string }[] = [
  { id: "address", label: "Part to an address" },
  { id: "token", label: "Part into another token" },
  { id: "whole", label: "The whole token" },
];

function parseShares(text: string, max: bigint): { value?: bigint; error?: string } {
  const trimmed = text.replace(/[,_\s]/g, "");
  if (!/^[0-9]+$/.test(trimmed)) return { error: "Enter a whole number of shares." };
  const value = BigInt(trimmed);
  if (value === 0n) return { error: "Send at least 1 share." };
  if (value > max) return { error: `This token holds ${formatShares(max)} shares.` };
  return { value };
}

export function ShareTransfer({
  token,
  owner,
  assets,
  display,
  shownBlock,
  onDone,
}: {
  token: TokenReport;
  owner: Address;
  assets: Address;
  display: TokenDisplay;
  /** The block the token's figures were read at (see TransactionStatus). */
  shownBlock: number;
  onDone: () => void;
}) {
  const ids = useId();
  const [mode, setMode] = useState<Mode>("address");
  const [recipient, setRecipient] = useState("");
  const [targetToken, setTargetToken] = useState("");
  const [shares, setShares] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const tx = useTransactor();
  const held = BigInt(token.shares);
  const parsed = shares ? parseShares(shares, held) : {};

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblem(null);
    const tokenId = BigInt(token.tokenId);
    if (mode === "token") {
      if (!/^[1-9][0-9]*$/.test(targetToken.trim())) return setProblem("Enter the id of a token of this asset.");
      if (BigInt(targetToken.trim()) === tokenId) return setProblem("Choose a token other than this one.");
    } else if (!isAddress(recipient.trim(), { strict: false })) {
      return setProblem("Enter a 0x address of 40 hex digits.");
    } else if (getAddress(recipient.trim()) === owner && mode === "whole") {
      return setProblem("That address already holds this token.");
    }
    if (mode !== "whole") {
      const { value, error } = parseShares(shares, held);
      if (error || value === undefined) return setProblem(error ?? "Enter the number of shares to send.");
      const receipt =
        mode === "address"
          ? await tx.write({ address: assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [tokenId, getAddress(recipient.trim()), value] })
          : await tx.write({ address: assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [tokenId, BigInt(targetToken.trim()), value] });
      if (receipt) {
        setShares("");
        onDone();
      }
      return;
    }
    const receipt = await tx.write({ address: assets, abi: kipAssetsAbi, functionName: "transferFrom", args: [owner, getAddress(recipient.trim()), tokenId] });
    if (receipt) onDone();
  }

  return (
    <form onSubmit={submit} className="space-y-4" aria-label={`Transfer shares of token ${token.tokenId}`}>
      <fieldset>
        <legend className="text-sm font-medium text-ink">What to send</legend>
        <div className="mt-2 flex flex-wrap gap-2">
          {MODES.map((option) => (
            <label
              key={option.id}
              className={`cursor-pointer rounded-lg border px-3 py-1.5 text-sm ${mode === option.id ? "border-brand-600 bg-brand-50 text-brand-900" : "border-line bg-white text-ink hover:bg-slate-50"}`}
            >
              <input type="radio" name={`${ids}-mode`} value={option.id} checked={mode === option.id} onChange={() => setMode(option.id)} className="sr-only" />
              {option.label}
            </label>
          ))}
        </div>
      </fieldset>

      {mode === "token" ? (
        <div>
          <label htmlFor={`${ids}-target`} className="block text-sm font-medium text-ink">
            Receiving token id (same asset, slot {token.asset.slot})
          </label>
          <input id={`${ids}-target`} inputMode="numeric" value={targetToken} onChange={(e) => setTargetToken(e.target.value)} className="mt-1 w-full rounded-lg border border-line px-3 py-2 font-mono text-sm" placeholder="e.g. 7" />
        </div>
      ) : (
        <div>
          <label htmlFor={`${ids}-to`} className="block text-sm font-medium text-ink">
            Recipient address
          </label>
          <input id={`${ids}-to`} value={recipient} onChange={(e) => setRecipient(e.target.value)} className="mt-1 w-full rounded-lg border border-line px-3 py-2 font-mono text-sm" placeholder="0x…" autoComplete="off" spellCheck={false} />
        </div>
      )}

      {mode !== "whole" ? (
        <div>
          <label htmlFor={`${ids}-shares`} className="block text-sm font-medium text-ink">
            Shares to send (this token holds {formatShares(held)})
          </label>
          <div className="mt-1 flex flex-wrap items-center gap-2">
            <input id={`${ids}-shares`} inputMode="numeric" value={shares} onChange={(e) => setShares(e.target.value)} className="w-40 rounded-lg border border-line px-3 py-2 font-mono text-sm" placeholder="250000" aria-describedby={`${ids}-shares-help`} />
            {[10n, 25n, 50n].map((pct) => (
              <button key={pct.toString()} type="button" onClick={() => setShares(((held * pct) / 100n).toString())} className="rounded-md border border-line px-2 py-1 text-xs text-ink hover:bg-slate-50">
                {pct.toString()} %
              </button>
            ))}
          </div>
          <p id={`${ids}-shares-help`} className="mt-1 text-xs text-muted">
            {parsed.value !== undefined ? `${sharePercent(parsed.value)} % of the asset's revenue from now on.` : parsed.error ?? "Each asset has 1,000,000 shares."}
          </p>
        </div>
      ) : null}

      <p className="rounded-lg bg-slate-50 px-3 py-2 text-xs leading-5 text-muted">
        {mode === "whole" ? (
          <>
            The token moves with everything in it, including its unclaimed revenue ({formatAmount(token.claimable, display)}). Claim first if you
            want to keep that.
          </>
        ) : (
          <>
            Revenue already earned stays with this token: its {formatAmount(token.claimable, display)} claimable remain yours. The shares you send
            earn only from queries settled after the transfer.
          </>
        )}
      </p>

      {problem ? (
        <p role="alert" className="text-sm text-red-700">
          {problem}
        </p>
      ) : null}
      <TransactionStatus state={tx} minedText="Shares transferred." shownBlock={shownBlock} />
      <button type="submit" disabled={tx.busy} className="rounded-lg bg-brand-700 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-brand-800 disabled:opacity-60">
        {mode === "whole" ? "Transfer token" : "Send shares"}
      </button>
    </form>
  );
}
