"use client";
// Who is signed in, on every page and without any wallet code: the root layout reads the SIWE session
// from its cookie on the server and hands it down; signing in and out (components/web3/connect-ui.tsx)
// replace it here and refresh the server-rendered parts of the page, which read the same cookie.
import { useRouter } from "next/navigation";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import type { Address } from "viem";

export type SessionInfo = { address: Address; chainId: number };

type SessionContextValue = {
  session: SessionInfo | null;
  /** Records a sign-in (or, with null, a sign-out) and re-renders the server components for it. */
  setSession: (session: SessionInfo | null) => void;
};

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ initial, children }: { initial: SessionInfo | null; children: ReactNode }) {
  const router = useRouter();
  // A server render that saw another session (after router.refresh(), say) replaces the one held here.
  const serverAddress = initial?.address ?? null;
  const [state, setState] = useState({ serverAddress, session: initial });
  if (state.serverAddress !== serverAddress) setState({ serverAddress, session: initial });
  const session = state.serverAddress === serverAddress ? state.session : initial;
  const setSession = useCallback(
    (next: SessionInfo | null) => {
      setState((current) => ({ ...current, session: next }));
      router.refresh();
    },
    [router],
  );
  const value = useMemo(() => ({ session, setSession }), [session, setSession]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

function useSessionContext(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession must be used inside <SessionProvider>.");
  return value;
}

/** The signed-in wallet (the server's SIWE session), or null. */
export function useSession(): SessionInfo | null {
  return useSessionContext().session;
}

export function useSetSession(): SessionContextValue["setSession"] {
  return useSessionContext().setSession;
}

export async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

/** End this browser's session (the server revokes it). */
export async function signOut(): Promise<void> {
  await fetch("/api/auth/logout", { method: "POST" }).catch(() => undefined);
}

/** End every session of the signed-in wallet, on every device, and this one. */
export async function signOutEverywhere(): Promise<number> {
  const response = await fetch("/api/auth/logout?everywhere=1", { method: "POST" });
  if (!response.ok) throw new Error(await errorMessage(response));
  return ((await response.json()) as { revoked: number }).revoked;
}
