// Produces real settled queries on the test chain with lib/protocol: a payer deposits for an operator
// (anvil #0), its wallet signs a Session naming it, a session key signs one Voucher per query, and the
// operator settles the account's newest voucher with the queries' records. Also lists assets from fresh accounts.
// Used by the earnings integration and browser tests; `voucherRow` signs a voucher as admission stores it,
// for the settlement tests that write receipts straight into a database.
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  parseEventLogs,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import type { Deployment } from "../../lib/chain/deployment";
import { kipAssetsAbi, kipSettlementAbi, mockUsdAbi } from "../../lib/chain/generated";
import {
  encodeSettle,
  nextVoucherFields,
  recordHash,
  settlementOutcome,
  signSession,
  signVoucher,
  type AccountPosition,
  type Session,
  type SettlementContext,
  type SlotMax,
  type Voucher,
} from "../../lib/protocol";
import { hashSession as hashSessionOf } from "../../lib/protocol";
import { ANVIL_KEYS } from "../../scripts/stack/anvil";

export class TestChain {
  readonly client: PublicClient;
  readonly chain;
  constructor(
    readonly rpcUrl: string,
    chainId: number,
    readonly deployment: Deployment,
  ) {
    this.chain = { ...foundry, id: chainId };
    this.client = createPublicClient({ chain: this.chain, transport: http(rpcUrl) }) as PublicClient;
  }

  get assets() {
    return this.deployment.assets as Address;
  }
  get settlement() {
    return this.deployment.settlement as Address;
  }
  get usd() {
    return this.deployment.paymentToken as Address;
  }

  /** A fresh account with test ETH (anvil_setBalance: no shared account's nonce is used). */
  async freshAccount(): Promise<PrivateKeyAccount> {
    const account = privateKeyToAccount(generatePrivateKey());
    await this.client.request({ method: "anvil_setBalance" as never, params: [account.address, `0x${parseEther("10").toString(16)}`] as never });
    return account;
  }

  async send(account: PrivateKeyAccount, request: { address: Address; abi: readonly unknown[]; functionName: string; args: readonly unknown[] }): Promise<TransactionReceipt> {
    const wallet = createWalletClient({ account, chain: this.chain, transport: http(this.rpcUrl) });
    const hash = await wallet.writeContract({ ...(request as object), account, chain: this.chain } as never);
    const receipt = await this.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${request.functionName} reverted`);
    return receipt;
  }

  /** Lists an asset from `creator`; returns its slot and token. */
  async list(creator: PrivateKeyAccount, kind: 0 | 1 | 2, price: bigint): Promise<{ slot: bigint; tokenId: bigint }> {
    const receipt = await this.send(creator, { address: this.assets, abi: kipAssetsAbi, functionName: "list", args: [kind, price, "ipfs://test-asset", `0x${"11".repeat(32)}`] });
    const [listed] = parseEventLogs({ abi: kipAssetsAbi, eventName: "AssetListed", logs: receipt.logs });
    return { slot: listed.args.slot, tokenId: listed.args.tokenId };
  }

  async read<T>(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []): Promise<T> {
    return (await this.client.readContract({ address, abi: abi as never, functionName, args } as never)) as T;
  }

  usdBalance(owner: Address) {
    return this.read<bigint>(this.usd, mockUsdAbi, "balanceOf", [owner]);
  }

  claimable(tokenId: bigint) {
    return this.read<bigint>(this.assets, kipAssetsAbi, "claimable", [tokenId]);
  }
}

/** The operator these helpers settle with (anvil #0). */
const operator = privateKeyToAccount(ANVIL_KEYS[0]);

/** A payer with a deposit and a wallet-signed session for a browser-held key. */
export class TestPayer {
  private position: AccountPosition = { seq: 0n, cumulativeMax: 0n };
  private queries = 0;
  private constructor(
    private readonly chain: TestChain,
    readonly account: PrivateKeyAccount,
    readonly key: PrivateKeyAccount,
    readonly session: Session,
    private readonly sessionSignature: Hex,
  ) {}

  static async create(chain: TestChain, deposit: bigint): Promise<TestPayer> {
    const account = await chain.freshAccount();
    await chain.send(account, { address: chain.usd, abi: mockUsdAbi, functionName: "mint", args: [account.address, deposit] });
    await chain.send(account, { address: chain.usd, abi: mockUsdAbi, functionName: "approve", args: [chain.settlement, deposit] });
    await chain.send(account, { address: chain.settlement, abi: kipSettlementAbi, functionName: "deposit", args: [operator.address, deposit] });
    const key = privateKeyToAccount(generatePrivateKey());
    const block = await chain.client.getBlock();
    const session: Session = { payer: account.address, key: key.address, operator: operator.address, spendCap: deposit, expiry: block.timestamp + 86_400n, nonce: 1n };
    const signature = await signSession(account, { chainId: chain.chain.id, settlement: chain.settlement }, session);
    return new TestPayer(chain, account, key, session, signature);
  }

  /** Signs `count` vouchers charging `charges` (slot → amount) each and settles the queries in one transaction from the operator. */
  async settleQueries(count: number, charges: [bigint, bigint][]): Promise<TransactionReceipt> {
    const ctx = { chainId: this.chain.chain.id, settlement: this.chain.settlement };
    const records = [];
    let last = nextVoucherFields(this.position, []);
    for (let i = 0; i < count; i++) {
      const fields = nextVoucherFields(this.position, charges.map(([slot, max]) => ({ slot, max })));
      this.position = { seq: fields.seq, cumulativeMax: fields.cumulativeMax };
      last = fields;
      const n = ++this.queries;
      records.push({
        app: charges[0][0],
        charges: charges.map(([slot, amount]) => ({ slot, amount })),
        tokensIn: 100 + n,
        tokensOut: 20 + n,
        recordHash: recordHash({ id: `${this.account.address}-${n}`, question: `q${n}`, answer: `a${n}`, passages: [] }),
      });
    }
    const voucher = { session: hashSessionOf(this.session), ...last, issuedAt: (await this.chain.client.getBlock()).timestamp };
    const item = {
      session: this.session,
      sessionSignature: { kind: "key" as const, signature: this.sessionSignature },
      voucher,
      voucherSignature: await signVoucher(this.key, ctx, voucher),
      records,
    };
    const wallet = createWalletClient({ account: operator, chain: this.chain.chain, transport: http(this.chain.rpcUrl) });
    const hash = await wallet.sendTransaction({ to: this.chain.settlement, data: encodeSettle([item]), account: operator, chain: this.chain.chain });
    const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
    const [outcome] = settlementOutcome((await this.chain.client.getTransaction({ hash })).input, operator.address, this.chain.settlement, receipt.logs);
    if (receipt.status !== "success" || outcome.rejected !== null || outcome.records?.length !== count) {
      throw new Error(`expected ${count} settled queries, got ${outcome.rejected ?? outcome.records?.length ?? 0}`);
    }
    return receipt;
  }
}

/**
 * The account's next voucher after `position` for a query with `maxima`, signed by the session `key`, and
 * the Receipt columns admission stores it in (seq, issuedAt, the query's own maxima, their hash, the
 * running maximum, the signature).
 */
export async function voucherRow(key: PrivateKeyAccount, ctx: SettlementContext, session: Hex, position: AccountPosition, maxima: readonly SlotMax[], issuedAt: bigint) {
  const fields = nextVoucherFields(position, maxima);
  const voucher: Voucher = { session, ...fields, issuedAt };
  return {
    voucher,
    position: { seq: fields.seq, cumulativeMax: fields.cumulativeMax } as AccountPosition,
    row: {
      seq: fields.seq.toString(),
      issuedAt: Number(issuedAt),
      slotsJson: JSON.stringify(maxima.map((m) => m.slot.toString())),
      maxAmountsJson: JSON.stringify(maxima.map((m) => m.max.toString())),
      charges: fields.charges,
      cumulativeMax: fields.cumulativeMax.toString(),
      signature: await signVoucher(key, ctx, voucher),
    },
  };
}

/** Net credited to a slot by `gross` in one batch: fee rounded down per slot per batch. */
export function netOf(gross: bigint, feeBps: number): bigint {
  return gross - (gross * BigInt(feeBps)) / 10_000n;
}
