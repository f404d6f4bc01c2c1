"use client";
// A transaction hash that opens the configured block explorer (EXPLORER_URL) or, without one, the app's
// own /tx/<hash> page, which reads the transaction from the chain.
import Link from "next/link";
import { shortHash } from "@/lib/chain/format";
import { usePublicConfig } from "@/components/web3/public-config-context";

export function txHref(hash: string, explorerUrl: string | null): string {
  return explorerUrl ? `${explorerUrl}/tx/${hash}` : `/tx/${hash}`;
}

export function TxLink({ hash, label, className = "" }: { hash: string; label?: string; className?: string }) {
  const { explorerUrl } = usePublicConfig();
  const href = txHref(hash, explorerUrl);
  const classes = `font-mono text-brand-700 underline decoration-brand-200 underline-offset-2 hover:decoration-brand-700 ${className}`;
  const text = label ?? shortHash(hash);
  return explorerUrl ? (
    <a href={href} target="_blank" rel="noreferrer" className={classes} title={hash}>
      {text}
    </a>
  ) : (
    <Link href={href} className={classes} title={hash}>
      {text}
    </Link>
  );
}

/** "3 transactions": a disclosure listing the transactions behind a figure. */
export function TxSources({ hashes, label = "transactions" }: { hashes: readonly string[]; label?: string }) {
  if (hashes.length === 0) return <span className="text-xs text-muted">no transactions yet</span>;
  if (hashes.length === 1) return <TxLink hash={hashes[0]} className="text-xs" />;
  return (
    <details className="text-xs">
      <summary className="cursor-pointer text-brand-700">
        {hashes.length} {label}
      </summary>
      <ul className="mt-1 max-h-40 space-y-0.5 overflow-auto">
        {hashes.map((hash) => (
          <li key={hash}>
            <TxLink hash={hash} />
          </li>
        ))}
      </ul>
    </details>
  );
}
