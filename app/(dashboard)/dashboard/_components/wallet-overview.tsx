// The signed-in wallet's payment-token balance and asset tokens, read from the chain on the server, so
// the figures are in the page's HTML; the page re-renders on every new block and after each transaction.
import { erc20Abi, formatUnits, type Address } from "viem";
import { Card, Notice } from "@/components/ui/card";
import { RefreshOnNewBlock } from "@/components/web3/use-chain-refresh";
import { readHoldings } from "@/lib/chain/earnings-reader";
import { serverReaderContext } from "@/lib/chain/earnings-server";
import { readPublicConfig } from "@/lib/chain/public-config";
import { serverPublicClient } from "@/lib/chain/server-client";
import { readTokenInfo } from "@/lib/chain/token";
import type { SignedInSession } from "@/lib/auth/session";
import { Holdings } from "./holdings";

type Balance = { value: bigint; symbol: string; decimals: number };

async function readBalance(owner: Address, token: Address): Promise<Balance> {
  const [value, info] = await Promise.all([
    serverPublicClient().readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [owner] }),
    readTokenInfo(token),
  ]);
  if (!info) throw new Error("the payment token's symbol and decimals could not be read");
  return { value, symbol: info.symbol, decimals: info.decimals };
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0];

export async function WalletOverview({ session }: { session: SignedInSession }) {
  const config = readPublicConfig();
  if (!config.contracts) return <Notice tone="warning">{config.contractsError ?? "No contracts are deployed on this chain."}</Notice>;
  const [balance, holdings] = await Promise.allSettled([readBalance(session.address, config.contracts.paymentToken), readHoldings(serverReaderContext(), session.address)]);
  if (balance.status === "rejected") console.error(balance.reason);
  if (holdings.status === "rejected") console.error(holdings.reason);

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
          {balance.status === "fulfilled" ? (
            <p className="text-2xl font-semibold tabular-nums text-ink wrap-anywhere" data-testid="payment-token-balance">
              {formatUnits(balance.value.value, balance.value.decimals)} <span className="text-base font-medium text-muted">{balance.value.symbol}</span>
            </p>
          ) : (
            <p role="alert" className="text-sm text-red-700 wrap-anywhere">
              Could not read the balance from chain {config.chainId}: {firstLine(balance.reason)}
            </p>
          )}
          <p className="mt-2 break-all font-mono text-xs text-slate-500">token {config.contracts.paymentToken}</p>
        </Card>
      </div>
      {holdings.status === "fulfilled" ? (
        <Holdings report={holdings.value} assets={config.contracts.assets} />
      ) : (
        <Notice tone="warning">Could not read your earnings: {firstLine(holdings.reason)} Reload to try again.</Notice>
      )}
      <RefreshOnNewBlock />
    </div>
  );
}
