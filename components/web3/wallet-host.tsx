"use client";
// Where the wallet code comes from on a page. Pages start without it (components/web3/chain.tsx and
// RainbowKit are split off); it is imported when something needs it: loadChain() for a transaction or
// the connection state, openWallet() when the user clicks Connect (RainbowKit's modal, then sign-in) or
// the account button. Once loaded it stays for the rest of the visit, and the wallet it reconnects must
// be the signed-in one: another address ends the session.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { signOut, useSession, useSetSession } from "@/components/web3/session";
import type { WalletAccount } from "@/components/web3/chain";

export type ChainModule = typeof import("@/components/web3/chain");
export type ConnectModule = typeof import("@/components/web3/connect-ui");
export type WalletIntent = "connect" | "account";

let chainImport: Promise<ChainModule> | null = null;
let connectImport: Promise<ConnectModule> | null = null;
const importChain = () => (chainImport ??= import("@/components/web3/chain"));
const importConnect = () => (connectImport ??= import("@/components/web3/connect-ui"));

/** Starts fetching the connect modal's code (on hover or focus of a Connect button). */
export function prefetchWallet(): void {
  void importChain().catch(() => undefined);
  void importConnect().catch(() => undefined);
}

type ConnectState = { module: ConnectModule; intent: WalletIntent | null };

interface WalletHostValue {
  /** The chain module once loaded and its wallet reconnected (or known to be disconnected). */
  chain: ChainModule | null;
  loadChain: () => Promise<ChainModule>;
  /** RainbowKit, once the user asked for it, and what to open when it is ready. */
  connect: ConnectState | null;
  opening: boolean;
  openWallet: (intent: WalletIntent) => void;
  intentHandled: () => void;
}

const WalletHostContext = createContext<WalletHostValue | null>(null);

export function WalletHost({ children }: { children: ReactNode }) {
  const publicConfig = usePublicConfig();
  const [chain, setChain] = useState<ChainModule | null>(null);
  const [connect, setConnect] = useState<ConnectState | null>(null);
  const [opening, setOpening] = useState(false);
  const loading = useRef<Promise<ChainModule> | null>(null);

  const loadChain = useCallback(() => {
    loading.current ??= importChain().then(async (module) => {
      await module.startChain(publicConfig);
      setChain(() => module);
      return module;
    });
    loading.current.catch(() => {
      loading.current = null;
    });
    return loading.current;
  }, [publicConfig]);

  const openWallet = useCallback(
    (intent: WalletIntent) => {
      setOpening(true);
      Promise.all([loadChain(), importConnect()])
        .then(([, module]) => setConnect({ module, intent }))
        .catch((error: unknown) => console.error("The wallet could not be loaded:", error))
        .finally(() => setOpening(false));
    },
    [loadChain],
  );
  const intentHandled = useCallback(() => setConnect((state) => (state ? { ...state, intent: null } : state)), []);

  const value = useMemo(() => ({ chain, loadChain, connect, opening, openWallet, intentHandled }), [chain, loadChain, connect, opening, openWallet, intentHandled]);
  return (
    <WalletHostContext.Provider value={value}>
      {chain ? <SessionGuard /> : null}
      {children}
    </WalletHostContext.Provider>
  );
}

export function useWalletHost(): WalletHostValue {
  const value = useContext(WalletHostContext);
  if (!value) throw new Error("useWalletHost must be used inside <WalletHost>.");
  return value;
}

const UNKNOWN: WalletAccount = { status: "unknown" };
const noSubscription = () => () => undefined;

/**
 * The connected wallet: status "unknown" until the wallet code is loaded. `load` loads it (components
 * that are about to sign or send ask for it when they appear).
 */
export function useWalletAccount({ load = false }: { load?: boolean } = {}): WalletAccount {
  const { chain, loadChain } = useWalletHost();
  const publicConfig = usePublicConfig();
  useEffect(() => {
    if (load) loadChain().catch((error: unknown) => console.error("The wallet could not be loaded:", error));
  }, [load, loadChain]);
  const config = chain ? chain.chainConfig(publicConfig) : null;
  const subscribe = useMemo(() => (chain && config ? (onChange: () => void) => chain.watchWalletAccount(config, onChange) : noSubscription), [chain, config]);
  return useSyncExternalStore(
    subscribe,
    () => (chain && config ? chain.walletAccount(config) : UNKNOWN),
    () => UNKNOWN,
  );
}

/** A session belongs to one address: if the wallet now shows another one, the session ends. */
function SessionGuard() {
  const session = useSession();
  const setSession = useSetSession();
  const { status, address } = useWalletAccount();
  const mismatch = status === "connected" && address !== undefined && session !== null && address.toLowerCase() !== session.address.toLowerCase();
  useEffect(() => {
    if (mismatch) void signOut().then(() => setSession(null));
  }, [mismatch, setSession]);
  return null;
}
