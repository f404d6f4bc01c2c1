// Shared steps of the chat tests and the chat benchmark, over real HTTP and a real chain: accounts,
// sign-in, listings (a dataset, a model, an app), deposits with a permit, spending sessions, vouchers.
import fs from "node:fs";
import path from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  parseEventLogs,
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "../../lib/chain/generated";
import type { ChargeSet, ChatUIMessage } from "../../lib/chat/types";
import { encryptString, modelApiKeyAad } from "../../lib/crypto";
import type { Db } from "../../lib/db-client";
import { buildSlotMetadata, KIND_TO_CHAIN, listingMetadataUri, type ListingKind } from "../../lib/listings/metadata";
import { nextVoucherFields, permitDomain, permitTypes, signSession, signVoucher, signVoucherWith, splitPermitSignature, type AccountPosition, type Session } from "../../lib/protocol";
import { BM25_RETRIEVER } from "../../lib/rag/bm25";
import { indexDocument } from "../../lib/rag/ingest";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";
import { signInOverHttp } from "./siwe";
import type { StackInfo } from "./stack-info";

const ROOT = path.resolve(import.meta.dirname, "..", "..");

export class ChatFixtures {
  readonly client: PublicClient;
  readonly chain;

  constructor(readonly stack: StackInfo) {
    this.chain = { ...foundry, id: stack.chainId };
    this.client = createPublicClient({ chain: this.chain, transport: http(stack.rpcUrl) }) as PublicClient;
  }

  get settlement(): Address {
    return this.stack.deployment.settlement as Address;
  }

  /** The server's settlement account, which every session names. */
  get operator(): Address {
    return this.stack.deployment.operator as Address;
  }

  /** A fresh account with test ETH (anvil_setBalance: no shared account's nonce is used). */
  async account(): Promise<PrivateKeyAccount> {
    const account = privateKeyToAccount(generatePrivateKey());
    await this.client.request({ method: "anvil_setBalance" as never, params: [account.address, `0x${parseEther("10").toString(16)}`] as never });
    return account;
  }


  wallet(account: PrivateKeyAccount) {
    return createWalletClient({ account, chain: this.chain, transport: http(this.stack.rpcUrl) });
  }

  signIn(account: Pick<PrivateKeyAccount, "address" | "signMessage">): Promise<string> {
    return signInOverHttp(this.stack.appUrl, this.stack.chainId, account);
  }

  /** Mints `amount` mUSD to `account` and deposits it for `operator` (default: the server's) with one permit signature and one transaction. */
  async deposit(account: PrivateKeyAccount, amount: bigint, operator: Address = this.operator): Promise<void> {
    const token = this.stack.deployment.paymentToken as Address;
    const wallet = this.wallet(account);
    await this.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: token, abi: mockUsdAbi, functionName: "mint", args: [account.address, amount] }),
    });
    const [domain, nonce] = await Promise.all([
      this.client.readContract({ address: token, abi: mockUsdAbi, functionName: "eip712Domain" }),
      this.client.readContract({ address: token, abi: mockUsdAbi, functionName: "nonces", args: [account.address] }),
    ]);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const signature = await account.signTypedData({
      domain: permitDomain(domain),
      types: permitTypes,
      primaryType: "Permit",
      message: { owner: account.address, spender: this.settlement, value: amount, nonce, deadline },
    });
    const { v, r, s } = splitPermitSignature(signature);
    const receipt = await this.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: this.settlement, abi: kipSettlementAbi, functionName: "depositWithPermit", args: [operator, amount, deadline, v, r, s] }),
    });
    if (receipt.status !== "success") throw new Error("depositWithPermit reverted");
  }

  /**
   * Deploys a mock smart wallet (contracts/test/utils/MockWallets.sol `contract`, with `args`) and deposits
   * `amount` mUSD from it for `operator`, through anvil's impersonation, as its owner would through the
   * wallet. Returns its address.
   */
  async smartWallet(contract: string, amount: bigint, operator: Address = this.operator, args: unknown[] = []): Promise<Address> {
    const artifact = path.join(ROOT, "contracts", "out", "MockWallets.sol", `${contract}.json`);
    const built = JSON.parse(fs.readFileSync(artifact, "utf8")) as { abi: Abi; bytecode: { object: Hex } };
    const hash = await this.wallet(await this.account()).deployContract({ abi: built.abi, bytecode: built.bytecode.object, args });
    const address = (await this.client.waitForTransactionReceipt({ hash })).contractAddress!;
    const rpc = (method: string, params: unknown[]) => this.client.request({ method: method as never, params: params as never });
    await rpc("anvil_setBalance", [address, `0x${parseEther("1").toString(16)}`]);
    await rpc("anvil_impersonateAccount", [address]);
    try {
      const as = createWalletClient({ account: address, chain: this.chain, transport: http(this.stack.rpcUrl) });
      const token = this.stack.deployment.paymentToken as Address;
      for (const call of [
        { address: token, abi: mockUsdAbi, functionName: "mint", args: [address, amount] },
        { address: token, abi: mockUsdAbi, functionName: "approve", args: [this.settlement, amount] },
        { address: this.settlement, abi: kipSettlementAbi, functionName: "deposit", args: [operator, amount] },
      ]) {
        const receipt = await this.client.waitForTransactionReceipt({ hash: await as.writeContract(call as never) });
        if (receipt.status !== "success") throw new Error(`${call.functionName} from ${contract} reverted`);
      }
    } finally {
      await rpc("anvil_stopImpersonatingAccount", [address]);
    }
    return address;
  }

  /** The payer's prepaid balance with `operator` (default: the server's). */
  balanceOf(payer: Address, operator: Address = this.operator): Promise<bigint> {
    return this.client.readContract({ address: this.settlement, abi: kipSettlementAbi, functionName: "balanceOf", args: [payer, operator] });
  }

  /** Lists a listing on chain from `creator` after creating its rows with `details`. */
  async list(db: Db, creator: PrivateKeyAccount, kind: ListingKind, name: string, price: bigint, details: (id: string) => Promise<unknown>) {
    const listing = await db.listing.create({
      data: {
        chainId: this.stack.chainId,
        assets: this.stack.deployment.assets,
        kind,
        creator: creator.address,
        name,
        description: `${name} (test listing)`,
        pricePerQuery: price.toString(),
        metadataJson: "",
        contentHash: "",
      },
    });
    await details(listing.id);
    const { json, contentHash } = buildSlotMetadata({ listingId: listing.id, kind, name, description: listing.description, creator: creator.address });
    const hash = await this.wallet(creator).writeContract({
      address: this.stack.deployment.assets as Address,
      abi: kipAssetsAbi,
      functionName: "list",
      args: [KIND_TO_CHAIN[kind], price, listingMetadataUri(this.stack.appUrl, listing.id), contentHash],
    });
    const receipt = await this.client.waitForTransactionReceipt({ hash });
    const [event] = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs });
    await db.listing.update({ where: { id: listing.id }, data: { metadataJson: json, contentHash, slotId: Number(event.args.slot), listTxHash: hash, status: "listed" } });
    return { id: listing.id, slot: event.args.slot };
  }

  /** A dataset per text, a model (the stand-in at `baseUrl`, or the offline model) and an app using them. */
  async createApp(
    db: Db,
    options: {
      systemPrompt: string;
      prices: { app: bigint; model: bigint; datasets: bigint[] };
      /** Each dataset's one document: `text`, stored as `filename` (default: the name, as .txt). */
      datasets: { name: string; text: string; filename?: string }[];
      baseUrl?: string;
      apiKey?: string;
      embeddingsModel?: string;
      /** The model's token prices in base units per 1,000 input / output tokens. */
      tokenPrices?: { perKInput: bigint; perKOutput: bigint };
    },
  ) {
    const creator = await this.account();
    const datasets: { id: string; slot: bigint }[] = [];
    for (const [i, d] of options.datasets.entries()) {
      datasets.push(
        await this.list(db, creator, "dataset", d.name, options.prices.datasets[i], async (id) => {
          await db.dataset.create({ data: { listingId: id, embedder: BM25_RETRIEVER, status: "indexing" } });
          const filename = d.filename ?? `${d.name.toLowerCase().replace(/\W+/g, "-")}.txt`;
          await indexDocument(db, id, { filename, content: new TextEncoder().encode(d.text) }, this.stack.env.ENCRYPTION_KEY);
          await db.dataset.update({ where: { listingId: id }, data: { status: "ready" } });
        }),
      );
    }
    const model = await this.list(db, creator, "model", options.baseUrl ? "Stand-in model" : "Offline model (test)", options.prices.model, (id) =>
      db.modelEndpoint.create({
        data: options.baseUrl
          ? {
              listingId: id,
              provider: "openai-compatible",
              baseUrl: options.baseUrl,
              modelName: "stand-in-chat",
              apiKeyEncrypted: options.apiKey ? encryptString(options.apiKey, this.stack.env.ENCRYPTION_KEY, modelApiKeyAad(id)) : null,
              embeddingsModel: options.embeddingsModel ?? null,
              pricePerKInput: String(options.tokenPrices?.perKInput ?? 0n),
              pricePerKOutput: String(options.tokenPrices?.perKOutput ?? 0n),
            }
          : { listingId: id, provider: "offline", modelName: "kip-offline-extractive-1" },
      }),
    );
    const app = await this.list(db, creator, "app", "Test app", options.prices.app, (id) =>
      db.app.create({
        data: { listingId: id, systemPrompt: options.systemPrompt, modelId: model.id, datasets: { create: datasets.map((d) => ({ datasetId: d.id })) } },
      }),
    );
    return { creator, app, model, datasets };
  }

  async chargeSet(appId: string): Promise<ChargeSet> {
    const response = await fetch(`${this.stack.appUrl}/api/chat/apps/${appId}`);
    if (!response.ok) throw new Error(`charge set: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { chargeSet: ChargeSet }).chargeSet;
  }

  /**
   * The wallet signs a Session for a new browser key; the server registers it. `spendCap` caps the
   * account's whole charged total (over all its sessions), as the contract reads it.
   */
  async authorize(cookie: string, payer: PrivateKeyAccount, { spendCap = 1_000_000n, seconds = 3600, operator = this.operator } = {}) {
    const privateKey = generatePrivateKey();
    const key = privateKeyToAccount(privateKey);
    const session: Session = {
      payer: payer.address,
      key: key.address,
      operator,
      spendCap,
      expiry: BigInt(Math.floor(Date.now() / 1000) + seconds),
      nonce: BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000)),
    };
    const signature = await signSession(payer, { chainId: this.stack.chainId, settlement: this.settlement }, session);
    const response = await this.post("/api/chat/sessions", cookie, {
      ...session,
      spendCap: session.spendCap.toString(),
      expiry: session.expiry.toString(),
      nonce: session.nonce.toString(),
      signature,
    });
    if (!response.ok) throw new Error(`session: ${response.status} ${await response.text()}`);
    const { hash } = (await response.json()) as { hash: Hex };
    return { key, privateKey, session, hash, cookie };
  }

  /** Where the account's vouchers stand as the server reports it (what the next one builds on), as the browser reads it. */
  async position(auth: { hash: Hex; cookie: string }): Promise<AccountPosition> {
    const response = await this.get(`/api/chat/account?session=${auth.hash}`, auth.cookie);
    if (!response.ok) throw new Error(`account: ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { position: { seq: string; cumulativeMax: string } };
    return { seq: BigInt(body.position.seq), cumulativeMax: BigInt(body.position.cumulativeMax) };
  }

  /**
   * The next voucher for the app's current charge set, signed by the session key, built like the browser
   * builds it: on the account's position as the server reports it (or on `previous` when given; null: a
   * fresh account).
   */
  async payment(
    charges: ChargeSet,
    auth: { key: PrivateKeyAccount; session: Session; hash: Hex; cookie: string },
    overrides: Partial<{
      previous: AccountPosition | null;
      seq: bigint;
      issuedAt: bigint;
      cumulativeMax: bigint;
      charges: Hex;
      signer: PrivateKeyAccount;
      /** Signs the voucher's digest instead of `signer` (the benchmark's load generator signs with libsecp256k1: the same bytes). */
      signDigest: (digest: Hex) => Promise<Hex>;
    }> = {},
  ) {
    const previous = "previous" in overrides ? (overrides.previous ?? { seq: 0n, cumulativeMax: 0n }) : await this.position(auth);
    const fields = nextVoucherFields(previous, charges.slots.map((s) => ({ slot: BigInt(s.slot), max: BigInt(s.price) })));
    const voucher = {
      session: auth.hash,
      seq: overrides.seq ?? fields.seq,
      issuedAt: overrides.issuedAt ?? BigInt(Math.floor(Date.now() / 1000)),
      cumulativeMax: overrides.cumulativeMax ?? fields.cumulativeMax,
      charges: overrides.charges ?? fields.charges,
    };
    const context = { chainId: this.stack.chainId, settlement: this.settlement };
    const signature = overrides.signDigest
      ? await signVoucherWith(overrides.signDigest, context, voucher)
      : await signVoucher(overrides.signer ?? auth.key, context, voucher);
    return {
      sessionHash: auth.hash,
      voucher: {
        seq: voucher.seq.toString(),
        issuedAt: voucher.issuedAt.toString(),
        cumulativeMax: voucher.cumulativeMax.toString(),
        charges: voucher.charges,
      },
      signature,
    };
  }

  post(path: string, cookie: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    return fetch(`${this.stack.appUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify(body),
      signal,
    });
  }

  get(path: string, cookie: string): Promise<Response> {
    return fetch(`${this.stack.appUrl}${path}`, { headers: { cookie } });
  }
}

export type UiChunk = { type: string; [key: string]: unknown };

/** Reads an AI SDK UI message stream (SSE) into its chunks. */
export async function readChunks(response: Response, onChunk?: (chunk: UiChunk) => boolean | void): Promise<UiChunk[]> {
  const chunks: UiChunk[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "))?.slice(6);
      if (!data || data === "[DONE]") continue;
      const chunk = JSON.parse(data) as UiChunk;
      chunks.push(chunk);
      if (onChunk?.(chunk) === false) {
        await reader.cancel();
        return chunks;
      }
    }
  }
  return chunks;
}

export function answerText(chunks: UiChunk[]): string {
  return chunks.filter((c) => c.type === "text-delta").map((c) => c.delta as string).join("");
}

export type { ChatUIMessage };

/** A random id in the shape the browser's generateId makes. */
export function clientId(): string {
  return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 12);
}
