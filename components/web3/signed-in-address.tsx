"use client";
import { useSession } from "@/components/web3/session";

/** The signed-in wallet's address (full text, visually truncated), or nothing when signed out. */
export function SignedInAddress({ testId, className = "" }: { testId?: string; className?: string }) {
  const session = useSession();
  if (!session) return null;
  return (
    <span className={`items-center gap-2 text-xs text-muted ${className}`}>
      <span className="size-2 shrink-0 rounded-full bg-emerald-500" aria-hidden />
      <span className="sr-only">Signed in as</span>
      <span data-testid={testId} title={session.address} className="max-w-[8.5rem] truncate font-mono text-ink">
        {session.address}
      </span>
    </span>
  );
}
