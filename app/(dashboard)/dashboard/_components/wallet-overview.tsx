"use client";
import { ConnectButton } from "@rainbow-me/rainbowkit";
import { erc20Abi, formatUnits, type Address } from "viem";
import { useReadContracts } from "wagmi";
import { Card, EmptyState, Notice } from "@/components/ui/card";
import { useAuthStatus } from "@/components/web3/auth";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { Holdings } from "./holdings";

function TokenBalance({ owner, token }: { owner: Address; token: Address }) {
  const config = usePublicConfig();
  const { data, isPending, isError, error } = useReadContracts({
    allowFailure: false,
    contracts: [
      { address: token, abi: erc20Abi, functionName: "balanceOf", args: [owner], chainId: config.chainId },
      { address: token, abi: erc20Abi, functionName: "decimals", chainId: config.chainId },
      { address: token, abi: erc20Abi, functionName: "symbol", chainId: config.chainId },
    ],
  });
  if (isPending) return <p className="text-sm text-muted">Reading balance from chain {config.chainId}…</p>;
  if (isError) {
    return (
      <p role="alert" className="text-sm text-red-700 wrap-anywhere">
        Could not read the balance from chain {config.chainId}: {error.message.split("\n")[0]}
      </p>
    );
  }
  const [balance, decimals, symbol] = data;
  return (
    <p className="text-2xl font-semibold tabular-nums text-ink wrap-anywhere" data-testid="payment-token-balance">
      {formatUnits(balance, decimals)} <span className="text-base font-medium text-muted">{symbol}</span>
    </p>
  );
}

export function WalletOverview() {
  const config = usePublicConfig();
  const { status, session } = useAuthStatus();

  if (status === "loading") {
    return <p className="text-sm text-muted">Checking your session…</p>;
  }
  if (status !== "authenticated" || !session) {
    return (
      <EmptyState title="Sign in to see your dashboard" action={<ConnectButton label="Connect wallet" showBalance={false} chainStatus="none" />}>
        Connect a wallet and sign the sign-in message (free, no transaction) to see the asset tokens you hold, what they earned and what you can claim.
      </EmptyState>
    );
  }

  return (
    <div className="space-y-6">
      <div className="grid grid-cols-1 gap-4 md:grid-cols-2">
        <Card title="Signed in as">
          <p className="break-all font-mono text-sm text-ink">{session.address}</p>
          <p className="mt-2 text-xs text-muted">
            on {config.chainName} (chain {session.chainId})
          </p>
        </Card>
        <Card title="Payment token balance">
          {config.contracts ? (
            <>
              <TokenBalance owner={session.address} token={config.contracts.paymentToken} />
              <p className="mt-2 break-all font-mono text-xs text-slate-500">token {config.contracts.paymentToken}</p>
            </>
          ) : (
            <Notice tone="warning">{config.contractsError ?? "No contracts are deployed on this chain."}</Notice>
          )}
        </Card>
      </div>
      <Holdings owner={session.address} />
    </div>
  );
}
