"use client";
// The header's wallet button once the user asked for the wallet (components/web3/wallet-host.tsx):
// RainbowKit's connect and account modals, and Sign-In with Ethereum through RainbowKit's flow backed
// by /api/auth/*. Its own chunk, loaded on the first click on Connect or on the account button; it then
// opens the modal that click asked for.
import {
  ConnectButton,
  RainbowKitAuthenticationProvider,
  RainbowKitProvider,
  createAuthenticationAdapter,
  lightTheme,
  useAccountModal,
  useConnectModal,
  type AuthenticationStatus,
} from "@rainbow-me/rainbowkit";
import "@rainbow-me/rainbowkit/styles.css";
import { useEffect, useMemo, type ReactNode } from "react";
import { getAddress } from "viem";
import { createSiweMessage } from "viem/siwe";
import { useAccount } from "wagmi";
import { AddressAvatar } from "@/components/web3/address-avatar";
import { ChainProviders } from "@/components/web3/chain";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { errorMessage, signOut, useSession, useSetSession, type SessionInfo } from "@/components/web3/session";
import { APP_NAME } from "@/components/web3/wagmi-config";
import type { WalletIntent } from "@/components/web3/wallet-host";

/** Sign-in messages are valid for this long after they are created (the nonce lives 10 minutes). */
const MESSAGE_LIFETIME_MS = 5 * 60 * 1000;

/** What RainbowKit should treat as signed in: a session whose address is the connected wallet (if any). */
function useAuthenticationStatus(): AuthenticationStatus {
  const session = useSession();
  const { address, status } = useAccount();
  // "loading" only during the first reconnect: RainbowKit closes its modal on connect unless the status
  // is "unauthenticated", so a "loading" while connecting would skip sign-in.
  if (status === "reconnecting") return "loading";
  if (!session) return "unauthenticated";
  if (address && getAddress(address) !== session.address) return "unauthenticated";
  return "authenticated";
}

function AuthProvider({ children }: { children: ReactNode }) {
  const status = useAuthenticationStatus();
  const setSession = useSetSession();
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
          setSession((await response.json()) as SessionInfo);
          return true;
        },
        async signOut() {
          await signOut();
          setSession(null);
        },
      }),
    [setSession],
  );
  return (
    <RainbowKitAuthenticationProvider adapter={adapter} status={status}>
      {children}
    </RainbowKitAuthenticationProvider>
  );
}

/** Opens the modal the click that loaded this chunk asked for, once RainbowKit can open it. */
function OpenRequested({ intent, onHandled }: { intent: WalletIntent | null; onHandled: () => void }) {
  const { openConnectModal } = useConnectModal();
  const { openAccountModal } = useAccountModal();
  useEffect(() => {
    if (!intent) return;
    const open = intent === "account" ? (openAccountModal ?? openConnectModal) : (openConnectModal ?? openAccountModal);
    if (!open) return;
    // After the mount effects of RainbowKit's modal provider, which close every modal while signed out.
    const timer = setTimeout(() => {
      open();
      onHandled();
    }, 0);
    return () => clearTimeout(timer);
  }, [intent, openConnectModal, openAccountModal, onHandled]);
  return null;
}

export function ConnectUi({ intent, onHandled }: { intent: WalletIntent | null; onHandled: () => void }) {
  const config = usePublicConfig();
  return (
    <ChainProviders>
      <AuthProvider>
        <RainbowKitProvider
          appInfo={{ appName: APP_NAME }}
          avatar={AddressAvatar}
          initialChain={config.chainId}
          modalSize="compact"
          theme={lightTheme({ accentColor: "#0f766e", borderRadius: "medium", fontStack: "system" })}
        >
          <ConnectButton label="Connect wallet" showBalance={false} chainStatus="none" accountStatus="avatar" />
          <OpenRequested intent={intent} onHandled={onHandled} />
        </RainbowKitProvider>
      </AuthProvider>
    </ChainProviders>
  );
}
