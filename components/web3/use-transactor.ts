"use client";
// The one transaction helper: checks the wallet is connected and on the app's chain, asks it to sign,
// then follows the transaction pending → mined → failed. Every on-chain write in the app goes through it,
// and <TransactionStatus> shows its state. `send` resolves to {ok: true, hash, receipt} once mined, or
// {ok: false, hash?, message} when the transaction was rejected, could not be sent, or reverted.
import { useCallback, useState } from "react";
import type { Abi, ContractFunctionArgs, ContractFunctionName, Hex, TransactionReceipt } from "viem";
import { useAccount, usePublicClient, useWriteContract } from "wagmi";
import { usePublicConfig } from "@/components/web3/public-config-context";

export type TransactionState =
  | { status: "idle" }
  | { status: "signing" }
  | { status: "pending"; hash: Hex }
  | { status: "mined"; hash: Hex; receipt: TransactionReceipt }
  | { status: "failed"; hash?: Hex; message: string };

export type TransactionResult = { ok: true; hash: Hex; receipt: TransactionReceipt } | { ok: false; hash?: Hex; message: string };

export interface ContractWrite<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">> {
  address: Hex;
  abi: abi;
  functionName: name;
  args: ContractFunctionArgs<abi, "nonpayable" | "payable", name>;
}

/** A sentence for a failed wallet or RPC call (never a stack of viem details). */
export function describeTransactionError(error: unknown): string {
  let current: unknown = error;
  while (current && typeof current === "object") {
    const e = current as { name?: string; code?: number; shortMessage?: string; cause?: unknown };
    if (e.name === "UserRejectedRequestError" || e.code === 4001) return "You rejected the transaction in your wallet.";
    if (e.name === "ChainMismatchError" || e.name === "SwitchChainError") return "Your wallet is on another chain: switch it to the app's chain and try again.";
    if (e.name === "ContractFunctionRevertedError" && e.shortMessage) return e.shortMessage;
    if (e.name === "InsufficientFundsError") return "Your wallet does not have enough ETH to pay for gas.";
    current = e.cause;
  }
  const e = error as { shortMessage?: string; message?: string } | undefined;
  return (e?.shortMessage ?? e?.message ?? "The transaction could not be sent.").split("\n")[0];
}

export function useTransactor() {
  const config = usePublicConfig();
  const { isConnected, chainId } = useAccount();
  const publicClient = usePublicClient({ chainId: config.chainId });
  const { writeContractAsync } = useWriteContract();
  const [state, setState] = useState<TransactionState>({ status: "idle" });

  const send = useCallback(
    async <abi extends Abi, name extends ContractFunctionName<abi, "nonpayable" | "payable">>(
      write: ContractWrite<abi, name>,
      { onHash }: { onHash?: (hash: Hex) => void | Promise<void> } = {},
    ): Promise<TransactionResult> => {
      const fail = (message: string, hash?: Hex): TransactionResult => {
        setState({ status: "failed", hash, message });
        return { ok: false, hash, message };
      };
      if (!isConnected) return fail("Connect your wallet first.");
      if (chainId !== config.chainId) {
        return fail(`Your wallet is on chain ${chainId}. Switch it to ${config.chainName} (chain ${config.chainId}) and try again.`);
      }
      if (!publicClient) return fail(`No connection to chain ${config.chainId}.`);
      setState({ status: "signing" });
      let hash: Hex;
      try {
        // The generic contract write is checked by ContractWrite's types; wagmi's own overloads cannot
        // be satisfied by a generic abi, hence the cast.
        hash = await writeContractAsync({ ...write, chainId: config.chainId } as unknown as Parameters<typeof writeContractAsync>[0]);
      } catch (error) {
        return fail(describeTransactionError(error));
      }
      setState({ status: "pending", hash });
      try {
        // The transaction is out: a failing callback must not make it look failed (a retry would send
        // it twice), so its error is only logged.
        if (onHash) {
          try {
            await onHash(hash);
          } catch (error) {
            console.warn(`after sending ${hash}:`, error);
          }
        }
        const receipt = await publicClient.waitForTransactionReceipt({ hash });
        if (receipt.status !== "success") return fail("The transaction reverted on chain; nothing changed.", hash);
        setState({ status: "mined", hash, receipt });
        return { ok: true, hash, receipt };
      } catch (error) {
        return fail(describeTransactionError(error), hash);
      }
    },
    [isConnected, chainId, config.chainId, config.chainName, publicClient, writeContractAsync],
  );

  const reset = useCallback(() => setState({ status: "idle" }), []);
  return { state, send, reset };
}
