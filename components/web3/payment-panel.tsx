"use client";
// Paying for chat: the wallet's payment-token balance, the prepaid balance in KipSettlement, charges not
// settled yet, deposits with a permit (one signature, one transaction), withdrawals (request, then
// withdraw after the delay), and the one-time spending-session authorization.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { erc20Abi, formatUnits, parseUnits, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { readContract, signTypedData, waitForTransactionReceipt, writeContract } from "viem/actions";
import { useClient, useConnectorClient, useReadContracts } from "wagmi";
import { kipSettlementAbi, mockUsdAbi } from "@/lib/chain/generated";
import { permitDomain, permitTypes, sessionTypes, settlementDomain, splitPermitSignature } from "@/lib/protocol";
import { forgetSession, saveSession, useStoredSession, type Scope } from "@/components/web3/session-key";

export interface ChatAccount {
  /** The server's clock when it answered (unix seconds). */
  serverTime: number;
  pending: string;
  /** Where the account's vouchers stand: the next voucher builds on this seq and cumulative maximum. */
  position: { seq: string; cumulativeMax: string };
  /** What counts against a session's cap: the account's total charged on chain plus its pending charges. */
  committed: string;
  /** The stored session as the server knows it: revoked or not, and what its own messages spent. */
  session: {
    hash: Hex;
    revokedAt: number | null;
    /** What the session's messages hold or have spent (base units, decimal). */
    spent: string;
  } | null;
}

export const chatAccountKey = (payer: Address, session?: Hex | null) => ["chat", "account", payer, session ?? null] as const;

/** Reads /api/chat/account (for the stored session `session`, when there is one). */
export async function fetchChatAccount(session?: Hex | null): Promise<ChatAccount> {
  const response = await fetch(`/api/chat/account${session ? `?session=${session}` : ""}`, { cache: "no-store" });
  if (!response.ok) throw new Error(`Could not load your pending charges (${response.status}).`);
  return (await response.json()) as ChatAccount;
}

export function useChatAccount(payer: Address | null, session?: Hex | null) {
  return useQuery({
    queryKey: chatAccountKey(payer ?? "0x0", session),
    enabled: Boolean(payer),
    queryFn: () => fetchChatAccount(session),
    refetchInterval: 5000,
  });
}

type TxState = { phase: "idle" } | { phase: "signing"; what: string } | { phase: "pending"; what: string; hash: Hex } | { phase: "done"; what: string; hash?: Hex } | { phase: "failed"; what: string; error: string };

function errorText(error: unknown): string {
  const text = error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error);
  return text.split("\n")[0];
}

function TxStatus({ state }: { state: TxState }) {
  if (state.phase === "idle") return null;
  const styles = {
    signing: "border-brand-200 bg-brand-50 text-brand-900",
    pending: "border-brand-200 bg-brand-50 text-brand-900",
    done: "border-emerald-200 bg-emerald-50 text-emerald-900",
    failed: "border-red-200 bg-red-50 text-red-800",
  }[state.phase];
  return (
    <div role={state.phase === "failed" ? "alert" : "status"} className={`mt-2 rounded-md border px-3 py-2 text-xs wrap-anywhere ${styles}`} data-testid="tx-status">
      {state.phase === "signing" && <>Confirm “{state.what}” in your wallet…</>}
      {state.phase === "pending" && (
        <>
          {state.what}: waiting for the transaction <span className="font-mono">{state.hash.slice(0, 10)}…</span>
        </>
      )}
      {state.phase === "done" && (
        <>
          {state.what}: done{state.hash ? <> (<span className="font-mono">{state.hash.slice(0, 10)}…</span>)</> : null}
        </>
      )}
      {state.phase === "failed" && (
        <>
          {state.what} failed: {state.error}
        </>
      )}
    </div>
  );
}

function Section({ id, title, children, highlight }: { id: string; title: string; children: ReactNode; highlight?: boolean }) {
  return (
    <section id={id} aria-labelledby={`${id}-title`} className={`rounded-lg border p-3 transition-colors ${highlight ? "border-amber-400 bg-amber-50" : "border-line bg-white"}`}>
      <h3 id={`${id}-title`} className="text-xs font-semibold uppercase tracking-wide text-muted">
        {title}
      </h3>
      <div className="mt-2 space-y-2">{children}</div>
    </section>
  );
}

const DAY = 24 * 60 * 60;

export function PaymentPanel({
  scope,
  token,
  messagePrice,
  highlight,
  warning,
}: {
  scope: Scope;
  token: Address;
  /** Most one message costs (base units). */
  messagePrice: bigint;
  highlight?: "deposit" | "session" | null;
  /** Said above the balance before anything is paid (the app's model is down). */
  warning?: string | null;
}) {
  const queryClient = useQueryClient();
  // Plain clients and viem's actions one by one (not wagmi's public and wallet clients, which carry every
  // action viem has): the chat page loads only the code it calls.
  const publicClient = useClient({ chainId: scope.chainId });
  const { data: walletClient } = useConnectorClient({ chainId: scope.chainId });
  const stored = useStoredSession(scope);
  const account = useChatAccount(scope.payer, stored?.hash);
  const reads = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: token, abi: erc20Abi, functionName: "balanceOf", args: [scope.payer], chainId: scope.chainId },
      { address: token, abi: erc20Abi, functionName: "decimals", chainId: scope.chainId },
      { address: token, abi: erc20Abi, functionName: "symbol", chainId: scope.chainId },
      { address: scope.settlement, abi: kipSettlementAbi, functionName: "balanceOf", args: [scope.payer, scope.operator], chainId: scope.chainId },
      { address: scope.settlement, abi: kipSettlementAbi, functionName: "withdrawalOf", args: [scope.payer, scope.operator], chainId: scope.chainId },
    ],
    query: { refetchInterval: 5000 },
  });
  const [depositAmount, setDepositAmount] = useState("10");
  const [withdrawAmount, setWithdrawAmount] = useState("");
  const [cap, setCap] = useState("5");
  const [days, setDays] = useState("7");
  const [tx, setTx] = useState<TxState>({ phase: "idle" });
  // Seconds now, refreshed so "ready" and "expired" change without a reload.
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), 15_000);
    return () => clearInterval(timer);
  }, []);
  const busy = tx.phase === "signing" || tx.phase === "pending";

  if (reads.isPending) return <p className="text-sm text-muted">Reading your balances from the chain…</p>;
  if (reads.isError) {
    return (
      <div role="alert" className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800 wrap-anywhere">
        The chain cannot be reached, so balances are unknown: {errorText(reads.error)}
        <button type="button" className="ml-2 underline" onClick={() => void reads.refetch()}>
          Try again
        </button>
      </div>
    );
  }
  const [walletBalance, decimals, symbol, prepaid, withdrawal] = reads.data;
  const pending = BigInt(account.data?.pending ?? "0");
  const available = prepaid - withdrawal.amount - pending;
  const fmt = (v: bigint) => `${formatUnits(v, decimals)} ${symbol}`;
  const refresh = async () => {
    await Promise.all([reads.refetch(), queryClient.invalidateQueries({ queryKey: ["chat", "account", scope.payer] })]);
  };

  async function send(what: string, write: () => Promise<Hex>) {
    if (!publicClient) return;
    try {
      setTx({ phase: "signing", what });
      const hash = await write();
      setTx({ phase: "pending", what, hash });
      const receipt = await waitForTransactionReceipt(publicClient, { hash });
      if (receipt.status !== "success") throw new Error("the transaction reverted");
      setTx({ phase: "done", what, hash });
      await refresh();
    } catch (error) {
      setTx({ phase: "failed", what, error: errorText(error) });
    }
  }

  async function deposit(event: FormEvent) {
    event.preventDefault();
    if (!walletClient || !publicClient) return;
    let amount: bigint;
    try {
      amount = parseUnits(depositAmount, decimals);
    } catch {
      setTx({ phase: "failed", what: "Deposit", error: "enter an amount such as 10 or 2.5" });
      return;
    }
    if (amount <= 0n || amount > walletBalance) {
      setTx({ phase: "failed", what: "Deposit", error: amount <= 0n ? "enter an amount above 0" : `your wallet holds ${fmt(walletBalance)}` });
      return;
    }
    await send("Deposit", async () => {
      const [domain, nonce] = await Promise.all([
        readContract(publicClient, { address: token, abi: mockUsdAbi, functionName: "eip712Domain" }),
        readContract(publicClient, { address: token, abi: mockUsdAbi, functionName: "nonces", args: [scope.payer] }),
      ]);
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 30 * 60);
      const signature = await signTypedData(walletClient, {
        account: scope.payer,
        domain: permitDomain(domain),
        types: permitTypes,
        primaryType: "Permit",
        message: { owner: scope.payer, spender: scope.settlement, value: amount, nonce, deadline },
      });
      const { v, r, s } = splitPermitSignature(signature);
      return writeContract(walletClient, {
        account: scope.payer,
        chain: walletClient.chain,
        address: scope.settlement,
        abi: kipSettlementAbi,
        functionName: "depositWithPermit",
        args: [scope.operator, amount, deadline, v, r, s],
      });
    });
  }

  async function requestWithdraw(event: FormEvent) {
    event.preventDefault();
    if (!walletClient) return;
    let amount: bigint;
    try {
      amount = parseUnits(withdrawAmount || "0", decimals);
    } catch {
      amount = 0n;
    }
    if (amount <= 0n || amount > prepaid) {
      setTx({ phase: "failed", what: "Withdrawal request", error: `enter an amount between 0 and ${fmt(prepaid)}` });
      return;
    }
    await send("Withdrawal request", () =>
      writeContract(walletClient, { account: scope.payer, chain: walletClient.chain, address: scope.settlement, abi: kipSettlementAbi, functionName: "requestWithdraw", args: [scope.operator, amount] }),
    );
  }

  async function authorize(event: FormEvent) {
    event.preventDefault();
    if (!walletClient) return;
    let spendCap: bigint;
    try {
      spendCap = parseUnits(cap, decimals);
    } catch {
      spendCap = 0n;
    }
    const lifetime = Number(days);
    // The contract holds the account's whole charged total to a session's cap: the cap signed is what the
    // account has spent so far plus what this session may spend.
    let committed: bigint;
    try {
      committed = BigInt((await fetchChatAccount()).committed);
    } catch (error) {
      setTx({ phase: "failed", what: "Authorization", error: errorText(error) });
      return;
    }
    const allowance = spendCap;
    spendCap = committed + allowance;
    if (allowance <= 0n || !Number.isFinite(lifetime) || lifetime <= 0 || lifetime > 90) {
      setTx({ phase: "failed", what: "Authorization", error: "choose a cap above 0 and 1 to 90 days" });
      return;
    }
    try {
      setTx({ phase: "signing", what: "Authorize spending" });
      const privateKey = generatePrivateKey();
      const key = privateKeyToAccount(privateKey).address;
      const session = {
        payer: scope.payer,
        key,
        operator: scope.operator,
        spendCap,
        expiry: BigInt(Math.floor(Date.now() / 1000) + Math.round(lifetime * DAY)),
        nonce: BigInt(Date.now()),
      };
      const signature = await signTypedData(walletClient, {
        account: scope.payer,
        domain: settlementDomain(scope.chainId, scope.settlement),
        types: sessionTypes,
        primaryType: "Session",
        message: session,
      });
      const response = await fetch("/api/chat/sessions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...session, spendCap: session.spendCap.toString(), expiry: session.expiry.toString(), nonce: session.nonce.toString(), signature }),
      });
      const body = (await response.json()) as { hash?: Hex; error?: { message: string } };
      if (!response.ok || !body.hash) throw new Error(body.error?.message ?? `the server answered ${response.status}`);
      saveSession(scope, {
        privateKey,
        hash: body.hash,
        session: { payer: scope.payer, key, operator: scope.operator, spendCap: spendCap.toString(), expiry: session.expiry.toString(), nonce: session.nonce.toString() },
      });
      setTx({ phase: "done", what: "Authorize spending" });
    } catch (error) {
      setTx({ phase: "failed", what: "Authorization", error: errorText(error) });
    }
  }

  /**
   * Revokes the stored session: the server refuses its vouchers at once, then the wallet revokes it on
   * chain, where the contract refuses vouchers issued from its revocation delay on. Answers already
   * admitted still settle.
   */
  async function revoke() {
    if (!stored || !walletClient) return;
    const what = "Revoke session";
    try {
      setTx({ phase: "signing", what });
      const response = await fetch("/api/chat/sessions/revoke", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hash: stored.hash }),
      });
      const body = (await response.json().catch(() => ({}))) as { error?: { message: string } };
      if (!response.ok) throw new Error(body.error?.message ?? `the server answered ${response.status}`);
    } catch (error) {
      setTx({ phase: "failed", what, error: errorText(error) });
      return;
    }
    const s = stored.session;
    await send(what, () =>
      writeContract(walletClient, {
        account: scope.payer,
        chain: walletClient.chain,
        address: scope.settlement,
        abi: kipSettlementAbi,
        functionName: "revokeSession",
        args: [{ payer: s.payer, key: s.key, operator: s.operator, spendCap: BigInt(s.spendCap), expiry: BigInt(s.expiry), nonce: BigInt(s.nonce) }],
      }),
    );
    forgetSession(scope);
  }

  const revoked = Boolean(account.data?.session?.revokedAt);
  const sessionActive = stored && !revoked && Number(stored.session.expiry) > now;
  // What the next messages can spend: the balance, and within an active session also what its cap leaves.
  const sessionLeft = sessionActive ? BigInt(stored.session.spendCap) - BigInt(account.data?.committed ?? stored.session.spendCap) : 0n;
  const spendable = (() => {
    const balance = available > 0n ? available : 0n;
    if (!sessionActive) return balance;
    return sessionLeft < balance ? (sessionLeft > 0n ? sessionLeft : 0n) : balance;
  })();
  const affordable = messagePrice > 0n ? spendable / messagePrice : 0n;
  const withdrawReady = withdrawal.amount > 0n && Number(withdrawal.readyAt) <= now;

  return (
    <div className="space-y-3" data-testid="payment-panel">
      {warning ? (
        <p role="alert" className="rounded-lg border border-amber-300 bg-amber-50 p-3 text-xs text-amber-900 wrap-anywhere" data-testid="payment-warning">
          {warning}
        </p>
      ) : null}
      <Section id="balances" title="Balance">
        <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm">
          <dt className="text-muted">Prepaid</dt>
          <dd className="text-right font-semibold tabular-nums wrap-anywhere" data-testid="prepaid-balance">
            {fmt(prepaid)}
          </dd>
          <dt className="text-muted">Pending charges</dt>
          <dd className="text-right tabular-nums wrap-anywhere" data-testid="pending-charges">
            {fmt(pending)}
          </dd>
          <dt className="text-muted">Available</dt>
          <dd className="text-right tabular-nums wrap-anywhere">{fmt(available > 0n ? available : 0n)}</dd>
          <dt className="text-muted">In your wallet</dt>
          <dd className="text-right tabular-nums wrap-anywhere" data-testid="wallet-token-balance">
            {fmt(walletBalance)}
          </dd>
        </dl>
        {messagePrice > 0n ? (
          <p className="text-xs text-muted">
            A message costs at most {fmt(messagePrice)}: about {affordable.toString()} more message{affordable === 1n ? "" : "s"}
            {sessionActive && sessionLeft < (available > 0n ? available : 0n) ? " before this session reaches its cap" : ""}.
          </p>
        ) : null}
      </Section>

      <Section id="deposit" title="Deposit" highlight={highlight === "deposit"}>
        <form onSubmit={deposit} className="flex gap-2">
          <label htmlFor="deposit-amount" className="sr-only">
            Amount to deposit ({symbol})
          </label>
          <input
            id="deposit-amount"
            inputMode="decimal"
            value={depositAmount}
            onChange={(e) => setDepositAmount(e.target.value)}
            className="w-full min-w-0 rounded-md border border-line px-2 py-1.5 text-sm"
          />
          <button type="submit" disabled={busy || !walletClient} className="shrink-0 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-800 disabled:opacity-50">
            Deposit {symbol}
          </button>
        </form>
        <p className="text-xs text-muted">One signature (a permit) and one transaction.</p>
      </Section>

      <Section id="session" title="Spending session" highlight={highlight === "session"}>
        {sessionActive ? (
          <div className="text-sm" data-testid="session-active">
            <p>
              Active until {new Date(Number(stored.session.expiry) * 1000).toLocaleString()}, {fmt(sessionLeft > 0n ? sessionLeft : 0n)} left to spend.
            </p>
            <p className="mt-1 text-xs text-muted">Messages are signed in this browser with the session key, without pop-ups.</p>
            <div className="mt-2 flex flex-wrap gap-x-4 gap-y-1">
              <button type="button" disabled={busy || !walletClient} className="text-xs text-red-700 underline disabled:opacity-50" onClick={() => void revoke()}>
                Revoke this session
              </button>
              <button type="button" className="text-xs text-muted underline" onClick={() => forgetSession(scope)}>
                Forget this session key
              </button>
            </div>
          </div>
        ) : (
          <form onSubmit={authorize} className="space-y-2">
            <p className="text-sm text-muted">
              {stored ? (revoked ? "Your session was revoked. " : "Your session has expired. ") : ""}Sign once to let this browser pay for messages up to a cap, without a pop-up per message.
            </p>
            <div className="grid grid-cols-2 gap-2">
              <label className="text-xs text-muted">
                Cap ({symbol})
                <input value={cap} onChange={(e) => setCap(e.target.value)} inputMode="decimal" className="mt-1 w-full rounded-md border border-line px-2 py-1.5 text-sm text-ink" />
              </label>
              <label className="text-xs text-muted">
                Days
                <input value={days} onChange={(e) => setDays(e.target.value)} inputMode="numeric" className="mt-1 w-full rounded-md border border-line px-2 py-1.5 text-sm text-ink" />
              </label>
            </div>
            <button type="submit" disabled={busy || !walletClient} className="w-full rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-800 disabled:opacity-50">
              Authorize spending
            </button>
          </form>
        )}
      </Section>

      <Section id="withdraw" title="Withdraw">
        {withdrawal.amount > 0n ? (
          <div className="text-sm">
            <p>
              Requested {fmt(withdrawal.amount)}, {withdrawReady ? "ready now" : `ready ${new Date(Number(withdrawal.readyAt) * 1000).toLocaleString()}`}.
            </p>
            <button
              type="button"
              disabled={busy || !withdrawReady || !walletClient}
              onClick={() =>
                walletClient &&
                void send("Withdrawal", () => writeContract(walletClient, { account: scope.payer, chain: walletClient.chain, address: scope.settlement, abi: kipSettlementAbi, functionName: "withdraw", args: [scope.operator] }))
              }
              className="mt-2 rounded-md border border-line px-3 py-1.5 text-sm hover:bg-slate-50 disabled:opacity-50"
            >
              Withdraw
            </button>
          </div>
        ) : (
          <form onSubmit={requestWithdraw} className="flex gap-2">
            <label htmlFor="withdraw-amount" className="sr-only">
              Amount to withdraw ({symbol})
            </label>
            <input
              id="withdraw-amount"
              inputMode="decimal"
              placeholder={formatUnits(prepaid, decimals)}
              value={withdrawAmount}
              onChange={(e) => setWithdrawAmount(e.target.value)}
              className="w-full min-w-0 rounded-md border border-line px-2 py-1.5 text-sm"
            />
            <button type="submit" disabled={busy || !walletClient || prepaid === 0n} className="shrink-0 rounded-md border border-line px-3 py-1.5 text-sm hover:bg-slate-50 disabled:opacity-50">
              Request
            </button>
          </form>
        )}
        <p className="text-xs text-muted">Withdrawals wait a delay so receipts signed before can still settle.</p>
      </Section>
      <TxStatus state={tx} />
    </div>
  );
}
