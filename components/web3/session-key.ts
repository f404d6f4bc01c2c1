"use client";
// The browser-held session key: generated here, authorized once by the wallet (an EIP-712 Session naming
// the marketplace's operator), and kept in this browser's localStorage under a key scoped to wallet +
// chain + settlement contract + operator, so it never signs for another wallet, chain, deployment or
// operator. It signs each message's voucher without a pop-up.
import { useCallback, useSyncExternalStore } from "react";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signVoucher, type Session, type Voucher } from "@/lib/protocol";

export interface StoredSession {
  privateKey: Hex;
  hash: Hex;
  session: { payer: Address; key: Address; operator: Address; spendCap: string; expiry: string; nonce: string };
}

export interface Scope {
  payer: Address;
  chainId: number;
  settlement: Address;
  operator: Address;
}

const storageKey = (scope: Scope) =>
  `kip.session.v2:${scope.chainId}:${scope.settlement.toLowerCase()}:${scope.operator.toLowerCase()}:${scope.payer.toLowerCase()}`;

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());

export function readSession(scope: Scope): StoredSession | null {
  try {
    const raw = window.localStorage.getItem(storageKey(scope));
    if (!raw) return null;
    const stored = JSON.parse(raw) as StoredSession;
    return stored.session.payer.toLowerCase() === scope.payer.toLowerCase() ? stored : null;
  } catch {
    return null;
  }
}

export function saveSession(scope: Scope, stored: StoredSession): void {
  window.localStorage.setItem(storageKey(scope), JSON.stringify(stored));
  notify();
}

export function forgetSession(scope: Scope): void {
  window.localStorage.removeItem(storageKey(scope));
  notify();
}

/** The stored session for `scope` (null when none, or before the page has mounted). */
export function useStoredSession(scope: Scope | null): StoredSession | null {
  const subscribe = useCallback((listener: () => void) => {
    listeners.add(listener);
    const onStorage = () => listener();
    window.addEventListener("storage", onStorage);
    return () => {
      listeners.delete(listener);
      window.removeEventListener("storage", onStorage);
    };
  }, []);
  const raw = useSyncExternalStore(
    subscribe,
    () => (scope ? window.localStorage.getItem(storageKey(scope)) : null),
    () => null,
  );
  if (!raw || !scope) return null;
  try {
    return JSON.parse(raw) as StoredSession;
  } catch {
    return null;
  }
}

export function sessionOf(stored: StoredSession): Session {
  return {
    payer: stored.session.payer,
    key: stored.session.key,
    operator: stored.session.operator,
    spendCap: BigInt(stored.session.spendCap),
    expiry: BigInt(stored.session.expiry),
    nonce: BigInt(stored.session.nonce),
  };
}

/** Signs a voucher with the stored session key: no wallet involved. */
export async function signWithSessionKey(stored: StoredSession, scope: Scope, voucher: Voucher): Promise<Hex> {
  return signVoucher(privateKeyToAccount(stored.privateKey), { chainId: scope.chainId, settlement: scope.settlement }, voucher);
}
