"use client";
// Sign-In with Ethereum on the client: RainbowKit's sign-in flow backed by /api/auth/*, with the
// session state (from /api/auth/session) kept in react-query.
import {
  RainbowKitAuthenticationProvider,
  createAuthenticationAdapter,
  type AuthenticationStatus,
} from "@rainbow-me/rainbowkit";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, type ReactNode } from "react";
import { getAddress, type Address } from "viem";
import { createSiweMessage } from "viem/siwe";
import { useAccount } from "wagmi";

export type SessionInfo = { address: Address; chainId: number };

export const SESSION_QUERY_KEY = ["auth", "session"] as const;

/** Sign-in messages are valid for this long after they are created (the nonce lives 10 minutes). */
const MESSAGE_LIFETIME_MS = 5 * 60 * 1000;

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function fetchSession(): Promise<SessionInfo | null> {
  const response = await fetch("/api/auth/session", { cache: "no-store" });
  if (!response.ok) throw new Error(await errorMessage(response));
  // Signed out is {address: null}, a 200: the browser logs no error for it.
  const body = (await response.json()) as SessionInfo | { address: null };
  return body.address ? (body as SessionInfo) : null;
}

/** End every session of the signed-in wallet, on every device, and this one. */
export async function signOutEverywhere(): Promise<number> {
  const response = await fetch("/api/auth/logout?everywhere=1", { method: "POST" });
  if (!response.ok) throw new Error(await errorMessage(response));
  return ((await response.json()) as { revoked: number }).revoked;
}

/** The signed-in wallet, or null. `undefined` while loading. */
export function useSession() {
  return useQuery({ queryKey: SESSION_QUERY_KEY, queryFn: fetchSession, staleTime: 60_000, retry: 1 });
}

/** What the UI should treat as signed in: a session whose address is the connected wallet (if any). */
export function useAuthStatus(): { status: AuthenticationStatus; session: SessionInfo | null } {
  const session = useSession();
  const { address, status: accountStatus } = useAccount();
  // "loading" only while the session or the first reconnect is unknown: RainbowKit closes its modal on
  // connect unless the status is "unauthenticated", so a "loading" while connecting would skip sign-in.
  if (session.isPending || accountStatus === "reconnecting") {
    return { status: "loading", session: null };
  }
  const data = session.data ?? null;
  if (!data) return { status: "unauthenticated", session: null };
  if (address && getAddress(address) !== data.address) return { status: "unauthenticated", session: null };
  return { status: "authenticated", session: data };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const { status } = useAuthStatus();
  const session = useSession();
  const { address, status: accountStatus } = useAccount();

  const adapter = useMemo(
    () =>
      createAuthenticationAdapter<string>({
        async getNonce() {
          const response = await fetch("/api/auth/nonce", { cache: "no-store" });
          if (!response.ok) throw new Error(await errorMessage(response));
          const { nonce } = (await response.json()) as { nonce: string };
          return nonce;
        },
        createMessage({ nonce, address, chainId }) {
          // The page's own origin: the server checks it against APP_URL, and wallets check it
          // against the page asking for the signature.
          const now = new Date();
          return createSiweMessage({
            domain: window.location.host,
            uri: window.location.origin,
            address,
            chainId,
            nonce,
            version: "1",
            issuedAt: now,
            expirationTime: new Date(now.getTime() + MESSAGE_LIFETIME_MS),
            statement: "Sign in to KIP Marketplace. Signing is free and sends no transaction.",
          });
        },
        async verify({ message, signature }) {
          const response = await fetch("/api/auth/verify", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ message, signature }),
          });
          if (!response.ok) {
            // RainbowKit shows its own retry message; keep the server's reason for whoever debugs.
            console.warn(`Sign-in rejected: ${await errorMessage(response)}`);
            return false;
          }
          queryClient.setQueryData(SESSION_QUERY_KEY, (await response.json()) as SessionInfo);
          return true;
        },
        async signOut() {
          await fetch("/api/auth/logout", { method: "POST" }).catch(() => undefined);
          queryClient.setQueryData(SESSION_QUERY_KEY, null);
        },
      }),
    [queryClient],
  );

  // A session belongs to one address: if the wallet now shows another one, drop the session.
  const sessionAddress = session.data?.address;
  useEffect(() => {
    if (accountStatus === "connected" && address && sessionAddress && getAddress(address) !== sessionAddress) {
      void adapter.signOut();
    }
  }, [accountStatus, address, sessionAddress, adapter]);

  return (
    <RainbowKitAuthenticationProvider adapter={adapter} status={status}>
      {children}
    </RainbowKitAuthenticationProvider>
  );
}
