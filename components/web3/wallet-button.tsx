"use client";
// The wallet buttons every page shows without loading any wallet code. The header's button is "Connect
// wallet" when signed out and the signed-in address's avatar when signed in (the server session says
// which); a click loads RainbowKit (components/web3/connect-ui.tsx) and opens its connect or account
// modal, and RainbowKit's own button takes this one's place. ConnectWalletButton is the same first
// step from inside a page ("Sign in to …").
import type { ReactNode } from "react";
import { prefetchWallet, useWalletHost, type WalletIntent } from "@/components/web3/wallet-host";
import { useSession } from "@/components/web3/session";

const CONNECT_CLASS =
  "inline-flex h-10 items-center justify-center whitespace-nowrap rounded-md bg-brand-700 px-3.5 text-base font-bold text-white shadow-sm transition-transform hover:scale-[1.025] disabled:opacity-70";

function useOpen(intent: WalletIntent) {
  const { openWallet, opening } = useWalletHost();
  return { opening, onClick: () => openWallet(intent), onPointerEnter: prefetchWallet, onFocus: prefetchWallet };
}

/** "Connect wallet" inside a page: the same modal as the header's button. */
export function ConnectWalletButton({ children = "Connect wallet" }: { children?: ReactNode }) {
  const { opening, ...handlers } = useOpen("connect");
  return (
    <button type="button" className={CONNECT_CLASS} aria-busy={opening || undefined} {...handlers}>
      {children}
    </button>
  );
}

function Avatar({ address }: { address: string }) {
  const hex = address.toLowerCase().replace(/^0x/, "");
  return <span aria-hidden className="block size-6 rounded-full" style={{ background: `linear-gradient(135deg, #${hex.slice(0, 6)}, #${hex.slice(-6)})` }} />;
}

/** The header's wallet button: RainbowKit's once loaded, a stand-in of the same look before. */
export function HeaderWalletButton() {
  const session = useSession();
  const { connect, intentHandled } = useWalletHost();
  const account = useOpen(session ? "account" : "connect");
  if (connect) {
    const { ConnectUi } = connect.module;
    return <ConnectUi intent={connect.intent} onHandled={intentHandled} />;
  }
  const { opening, ...handlers } = account;
  if (!session) {
    return (
      // The test id is RainbowKit's: tests and users find "the connect button" whichever is showing.
      <button type="button" data-testid="rk-connect-button" className={CONNECT_CLASS} aria-busy={opening || undefined} {...handlers}>
        Connect wallet
      </button>
    );
  }
  return (
    <button
      type="button"
      data-testid="wallet-account-button"
      className="inline-flex h-10 items-center justify-center rounded-md bg-white px-2 shadow-sm ring-1 ring-line transition-transform hover:scale-[1.025]"
      aria-label={`Wallet ${session.address}`}
      aria-busy={opening || undefined}
      {...handlers}
    >
      <Avatar address={session.address} />
    </button>
  );
}
