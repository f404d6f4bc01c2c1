// The development wallet: a wagmi connector that signs in the page with a known anvil key, so the app
// can be used on a local chain without a browser extension. It is only ever constructed when the
// server says the chain is local (PublicConfig.devWallet is null elsewhere), and it refuses any other
// chain. Shaped like scaffold-eth-2's burner connector: wagmi gets a viem wallet client with a local
// account (getClient), and anything that talks EIP-1193 gets a provider that signs locally and forwards
// reads to the configured RPC.
import type { Wallet } from "@rainbow-me/rainbowkit";
import {
  createClient,
  fromHex,
  getAddress,
  http,
  numberToHex,
  type Address,
  type Chain,
  type EIP1193Parameters,
  type EIP1193Provider,
  type Hex,
  type SendTransactionParameters,
  type TypedDataDefinition,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { sendTransaction } from "viem/actions";
import { getHttpRpcClient } from "viem/utils";
import { createConnector } from "wagmi";

export const DEV_WALLET_ID = "kipDevWallet";
export const DEV_WALLET_NAME = "Development wallet";

// A key on a terminal: drawn inline so nothing is fetched.
const ICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0f766e"/><path d="M18 22l10 10-10 10" stroke="#fff" stroke-width="5" fill="none" stroke-linecap="round" stroke-linejoin="round"/><path d="M32 44h14" stroke="#99f6e4" stroke-width="5" stroke-linecap="round"/></svg>`,
  );

type DevWalletOptions = { privateKey: Hex; chain: Chain; rpcUrl: string };

type RpcTransaction = {
  from?: Address;
  to?: Address | null;
  data?: Hex;
  value?: Hex;
  gas?: Hex;
  nonce?: Hex;
  gasPrice?: Hex;
  maxFeePerGas?: Hex;
  maxPriorityFeePerGas?: Hex;
};

class ProviderRpcError extends Error {
  constructor(
    public readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const hexToBig = (value: Hex | undefined) => (value === undefined ? undefined : fromHex(value, "bigint"));

/** An EIP-1193 provider for the local account: signs here, forwards everything else to the RPC. */
export function createDevWalletProvider({ privateKey, chain, rpcUrl }: DevWalletOptions): EIP1193Provider {
  const account = privateKeyToAccount(privateKey);
  // A plain client and the one action it needs: a wallet client would bring every wallet action viem has.
  const wallet = createClient({ account, chain, transport: http(rpcUrl) });
  const rpc = getHttpRpcClient(rpcUrl);
  let rpcId = 0;

  const assertSigner = (address: unknown) => {
    if (typeof address !== "string" || getAddress(address) !== account.address) {
      throw new ProviderRpcError(4100, `The development wallet only signs for ${account.address}.`);
    }
  };

  const request = async ({ method, params }: EIP1193Parameters): Promise<unknown> => {
    const args = (params ?? []) as unknown[];
    switch (method) {
      case "eth_accounts":
      case "eth_requestAccounts":
        return [account.address];
      case "eth_chainId":
        return numberToHex(chain.id);
      case "personal_sign": {
        // [message as hex, signer address]
        assertSigner(args[1]);
        return account.signMessage({ message: { raw: args[0] as Hex } });
      }
      case "eth_signTypedData_v4": {
        // [signer address, typed data as JSON]
        assertSigner(args[0]);
        const typedData = JSON.parse(args[1] as string) as TypedDataDefinition & {
          types: Record<string, unknown>;
        };
        // The domain type is derived from the domain by viem; a JSON caller may include it.
        const { EIP712Domain: _domainType, ...types } = typedData.types;
        void _domainType;
        return account.signTypedData({ ...typedData, types } as TypedDataDefinition);
      }
      case "eth_sendTransaction": {
        const tx = args[0] as RpcTransaction;
        if (tx.from) assertSigner(tx.from);
        const fees =
          tx.maxFeePerGas !== undefined || tx.maxPriorityFeePerGas !== undefined
            ? { maxFeePerGas: hexToBig(tx.maxFeePerGas), maxPriorityFeePerGas: hexToBig(tx.maxPriorityFeePerGas) }
            : tx.gasPrice !== undefined
              ? { gasPrice: hexToBig(tx.gasPrice) }
              : {};
        // viem fills nonce, gas and fees from the RPC, signs with the local key and sends it raw.
        return sendTransaction(wallet, {
          account,
          chain,
          to: tx.to ?? undefined,
          data: tx.data,
          value: hexToBig(tx.value),
          gas: hexToBig(tx.gas),
          nonce: tx.nonce === undefined ? undefined : fromHex(tx.nonce, "number"),
          ...fees,
        } as SendTransactionParameters<Chain, typeof account>);
      }
      case "wallet_switchEthereumChain": {
        const target = fromHex((args[0] as { chainId: Hex }).chainId, "number");
        if (target !== chain.id) {
          throw new ProviderRpcError(4902, `The development wallet only works on chain ${chain.id}.`);
        }
        return null;
      }
      case "eth_sign":
      case "eth_signTransaction":
      case "wallet_addEthereumChain":
        throw new ProviderRpcError(4200, `The development wallet does not support ${method}.`);
      default: {
        // Reads (eth_call, eth_getBalance, eth_estimateGas, ...) go to the node as they are.
        const { result, error } = await rpc.request({
          body: { jsonrpc: "2.0", id: ++rpcId, method, params: args },
        });
        if (error) throw new ProviderRpcError(error.code, error.message);
        return result;
      }
    }
  };

  return {
    request: request as EIP1193Provider["request"],
    // No events: the account and the chain never change.
    on: () => undefined,
    removeListener: () => undefined,
  } as EIP1193Provider;
}

type StorageItems = { "kipDevWallet.connected": boolean };

/** The wagmi connector. `connected` is remembered in wagmi's storage so a reload reconnects. */
export function devWalletConnector(options: DevWalletOptions) {
  const account = privateKeyToAccount(options.privateKey);
  let provider: EIP1193Provider | undefined;

  return createConnector<EIP1193Provider, Record<string, unknown>, StorageItems>((config) => {
    const assertChain = (chainId: number | undefined) => {
      if (chainId !== undefined && chainId !== options.chain.id) {
        throw new Error(`The development wallet only works on chain ${options.chain.id}, not ${chainId}.`);
      }
    };
    return {
      id: DEV_WALLET_ID,
      name: DEV_WALLET_NAME,
      type: "devWallet",
      icon: ICON,
      async connect({ chainId, withCapabilities } = {}) {
        assertChain(chainId);
        await config.storage?.setItem("kipDevWallet.connected", true);
        const accounts = withCapabilities ? [{ address: account.address, capabilities: {} }] : [account.address];
        // wagmi types connect()'s accounts by the caller's `withCapabilities` generic, which the
        // implementation cannot see; the runtime shape above matches whichever the caller asked for.
        return { accounts: accounts as never, chainId: options.chain.id };
      },
      async disconnect() {
        await config.storage?.removeItem("kipDevWallet.connected");
      },
      async getAccounts() {
        return [account.address];
      },
      async getChainId() {
        return options.chain.id;
      },
      async getProvider() {
        provider ??= createDevWalletProvider(options);
        return provider;
      },
      async getClient({ chainId } = {}) {
        assertChain(chainId);
        return createClient({ account, chain: options.chain, transport: http(options.rpcUrl) });
      },
      async isAuthorized() {
        return (await config.storage?.getItem("kipDevWallet.connected")) === true;
      },
      async switchChain({ chainId }) {
        assertChain(chainId);
        return options.chain;
      },
      onAccountsChanged() {},
      onChainChanged() {},
      onDisconnect() {
        config.emitter.emit("disconnect");
      },
    };
  });
}

/** The RainbowKit wallet entry for the development wallet. */
export function devWallet(options: DevWalletOptions): () => Wallet {
  return () => ({
    id: DEV_WALLET_ID,
    name: DEV_WALLET_NAME,
    shortName: "Dev wallet",
    iconUrl: ICON,
    iconBackground: "#0f766e",
    installed: true,
    createConnector: (walletDetails) =>
      createConnector((config) => ({
        ...devWalletConnector(options)(config),
        ...walletDetails,
      })),
  });
}
