"use client";
// The one way the UI sends a transaction: the wallet signs, the hook waits for the receipt, and the status
// goes idle → signing → pending → mined | failed, with the hash and a readable error. Callers refresh
// what the transaction changed after `write` resolves (it returns the receipt when mined, else null).
// Before asking the wallet it checks that one is connected and on the app's chain; `onHash` runs once the
// transaction is sent (e.g. to record it with the server while it is pending). The state keeps the block the
// transaction was mined in, so a view can hold its "mined" message until the figures it shows are read at
// or after that block (TransactionStatus `shownBlock`): a user never sees "Claimed" beside a stale figure.
// It needs no wagmi context: the wallet code loads (components/web3/wallet-host.tsx) when `write` is
// first called, so a page that only might send a transaction does not load it up front.
import type { WriteContractParameters } from "@wagmi/core";
import { useCallback, useState } from "react";
import { BaseError, ContractFunctionRevertedError, type Abi, type ContractFunctionArgs, type ContractFunctionName, type TransactionReceipt } from "viem";
import { usePublicConfig } from "@/components/web3/public-config-context";
import { useWalletHost } from "@/components/web3/wallet-host";

export type TransactorStatus = "idle" | "signing" | "pending" | "mined" | "failed";

export interface TransactorState {
  status: TransactorStatus;
  hash: `0x${string}` | null;
  error: string | null;
  /** The block the transaction was mined in (status "mined" only). */
  blockNumber: bigint | null;
}

type WriteRequest<
  abi extends Abi | readonly unknown[] = Abi,
  functionName extends ContractFunctionName<abi, "nonpayable" | "payable"> = ContractFunctionName<abi, "nonpayable" | "payable">,
  args extends ContractFunctionArgs<abi, "nonpayable" | "payable", functionName> = ContractFunctionArgs<abi, "nonpayable" | "payable", functionName>,
> = WriteContractParameters<abi, functionName, args>;

/** A short, human message for a wallet or contract error (the revert's error name when there is one). */
export function transactionErrorMessage(error: unknown): string {
  if (error instanceof BaseError) {
    const revert = error.walk((cause) => cause instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const name = revert.data?.errorName;
      if (name) return `The contract refused: ${name}${revert.data?.args?.length ? `(${revert.data.args.map(String).join(", ")})` : ""}.`;
      if (revert.reason) return `The contract refused: ${revert.reason}.`;
    }
    if (error.walk((cause) => (cause as { code?: number }).code === 4001)) return "You rejected the request in your wallet.";
    return error.shortMessage;
  }
  return error instanceof Error ? error.message : String(error);
}

const IDLE: TransactorState = { status: "idle", hash: null, error: null, blockNumber: null };

export function useTransactor() {
  const config = usePublicConfig();
  const { loadChain } = useWalletHost();
  const [state, setState] = useState<TransactorState>(IDLE);

  const write = useCallback(
    async <const abi extends Abi | readonly unknown[], functionName extends ContractFunctionName<abi, "nonpayable" | "payable">, args extends ContractFunctionArgs<abi, "nonpayable" | "payable", functionName>>(
      request: WriteRequest<abi, functionName, args>,
      { onHash }: { onHash?: (hash: `0x${string}`) => unknown } = {},
    ): Promise<TransactionReceipt | null> => {
      let chain;
      try {
        chain = await loadChain();
      } catch (error) {
        setState({ status: "failed", hash: null, error: `The wallet could not be loaded: ${transactionErrorMessage(error)}`, blockNumber: null });
        return null;
      }
      const wagmiConfig = chain.chainConfig(config);
      const { isConnected, chainId } = chain.getAccount(wagmiConfig);
      if (!isConnected) {
        setState({ status: "failed", hash: null, error: "Connect your wallet first.", blockNumber: null });
        return null;
      }
      if (chainId !== config.chainId) {
        setState({
          status: "failed",
          hash: null,
          error: `Your wallet is on chain ${chainId}. Switch it to ${config.chainName} (chain ${config.chainId}) and try again.`,
          blockNumber: null,
        });
        return null;
      }
      setState({ status: "signing", hash: null, error: null, blockNumber: null });
      let hash: `0x${string}` | null = null;
      try {
        hash = await chain.writeContract(wagmiConfig, request as WriteRequest);
        setState({ status: "pending", hash, error: null, blockNumber: null });
        if (onHash) {
          // The transaction is out: a failing callback must not make it look failed (a retry would send
          // it twice), so its error is only logged.
          try {
            await onHash(hash);
          } catch (error) {
            console.warn(`after sending ${hash}:`, error);
          }
        }
        const receipt = await chain.waitForTransactionReceipt(wagmiConfig, { hash, chainId: config.chainId });
        if (receipt.status !== "success") {
          setState({ status: "failed", hash, error: "The transaction was mined but reverted.", blockNumber: receipt.blockNumber });
          return null;
        }
        setState({ status: "mined", hash, error: null, blockNumber: receipt.blockNumber });
        return receipt;
      } catch (error) {
        setState({ status: "failed", hash, error: transactionErrorMessage(error), blockNumber: null });
        return null;
      }
    },
    [loadChain, config],
  );

  const reset = useCallback(() => setState(IDLE), []);

  return { write, reset, ...state, busy: state.status === "signing" || state.status === "pending" };
}
