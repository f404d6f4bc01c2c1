// End to end on a real chain: deposit, a wallet-signed Session, session-key Receipts signed and packed with
// lib/protocol, settle, events, balances, claimable, claim; a bad receipt in the batch is skipped, a replay
// is rejected, and only an authorized settler charges less than a receipt's signed maxima. A smart-wallet
// payer's session signature (ERC-1271, not 65 bytes) travels unchanged and registers. Uses the shared test
// stack (tests/helpers/global-setup.ts: anvil + the forge deploy script) when it is provided, else starts
// its own anvil and runs the same deploy script.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  concatHex,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  http,
  parseEther,
  type Abi,
  type Address,
  type Hex,
  type Log,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import {
  decodeCharges,
  encodeBatch,
  hashSession,
  rejectReasonName,
  sessionDigest,
  signReceipt,
  signSession,
  verifyReceipt,
  verifySession,
  type Receipt,
  type Session,
} from "../../lib/protocol";
import { ANVIL_KEYS, startAnvil } from "../../scripts/stack/anvil";
import { deployContracts } from "../../scripts/stack/deploy";
import { freePort } from "../../scripts/stack/process";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const artifact = (file: string, name: string): { abi: Abi; bytecode: { object: Hex } } =>
  JSON.parse(fs.readFileSync(path.join(ROOT, "contracts", "out", `${file}.sol`, `${name}.json`), "utf8"));
const abi = (name: string): Abi => artifact(name, name).abi;

const assetsAbi = abi("KipAssets");
const settlementAbi = abi("KipSettlement");
const usdAbi = abi("MockUSD");

let rpcUrl: string;
let chainId: number;
let addresses: { assets: Address; settlement: Address; usd: Address; feeBps: number };
let stopOwnChain: (() => Promise<void>) | undefined;
let client: PublicClient;

function sharedStack() {
  try {
    return inject("stack");
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const stack = sharedStack();
  if (stack) {
    rpcUrl = stack.rpcUrl;
    chainId = stack.chainId;
    addresses = {
      assets: stack.deployment.assets as Address,
      settlement: stack.deployment.settlement as Address,
      usd: stack.deployment.paymentToken as Address,
      feeBps: stack.deployment.feeBps,
    };
  } else {
    const anvil = await startAnvil({ port: await freePort() });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-settlement-test-"));
    stopOwnChain = async () => {
      await anvil.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    const deployment = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      privateKey: ANVIL_KEYS[0],
      deploymentFile: path.join(dir, "deployment.json"),
    });
    rpcUrl = anvil.rpcUrl;
    chainId = anvil.chainId;
    addresses = {
      assets: deployment.assets as Address,
      settlement: deployment.settlement as Address,
      usd: deployment.paymentToken as Address,
      feeBps: deployment.feeBps,
    };
  }
  client = createPublicClient({ chain: { ...foundry, id: chainId }, transport: http(rpcUrl) }) as PublicClient;
}, 180_000);

afterAll(async () => {
  await stopOwnChain?.();
});

/** A fresh account with test ETH (anvil_setBalance: no shared account nonces are used). */
async function freshAccount(): Promise<PrivateKeyAccount> {
  const account = privateKeyToAccount(generatePrivateKey());
  await client.request({ method: "anvil_setBalance" as never, params: [account.address, `0x${parseEther("10").toString(16)}`] as never });
  return account;
}

/** Sends from a key, or from an address anvil impersonates (a contract or the deployment's owner). */
async function send(account: PrivateKeyAccount | Address, address: Address, contractAbi: Abi, functionName: string, args: unknown[]) {
  const chain = { ...foundry, id: chainId };
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const hash = await wallet.writeContract({ address, abi: contractAbi, functionName, args, chain, account });
  const receipt = await client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

function events(logs: Log[], address: Address, contractAbi: Abi) {
  return logs
    .filter((log) => log.address.toLowerCase() === address.toLowerCase())
    .map((log) => decodeEventLog({ abi: contractAbi, data: log.data, topics: log.topics }))
    .map((event) => ({ name: String(event.eventName), args: event.args as unknown as Record<string, unknown> }));
}

const read = (address: Address, contractAbi: Abi, functionName: string, args: unknown[] = []) =>
  client.readContract({ address, abi: contractAbi, functionName, args }) as Promise<unknown>;

/** Runs `fn` while anvil lets anyone send as `address`. */
async function impersonating<T>(address: Address, fn: () => Promise<T>): Promise<T> {
  await client.request({ method: "anvil_impersonateAccount" as never, params: [address] as never });
  try {
    return await fn();
  } finally {
    await client.request({ method: "anvil_stopImpersonatingAccount" as never, params: [address] as never });
  }
}

/** A settler the deployment's owner authorized to charge less than the signed maxima (like the server's). */
async function authorizedSettler(settlement: Address): Promise<PrivateKeyAccount> {
  const settler = await freshAccount();
  const owner = (await read(settlement, settlementAbi, "owner")) as Address;
  await impersonating(owner, () => send(owner, settlement, settlementAbi, "setSettler", [settler.address, true]));
  expect(await read(settlement, settlementAbi, "isSettler", [settler.address])).toBe(true);
  return settler;
}

describe("settlement on a real chain", () => {
  it("settles signed receipts, skips a bad one, rejects a replay, and pays holders", async () => {
    const { assets, settlement, usd, feeBps } = addresses;
    const ctx = { chainId, settlement };
    const creator = await freshAccount();
    const payer = await freshAccount();
    const settler = await authorizedSettler(settlement);
    const sessionKey = privateKeyToAccount(generatePrivateKey()); // browser-held, never funded

    // Four listings by one creator: app, model, two datasets.
    const listed: bigint[] = [];
    const listedTokens: bigint[] = [];
    for (const [kind, price] of [
      [2, 20_000n],
      [1, 10_000n],
      [0, 5_000n],
      [0, 5_000n],
    ] as const) {
      const r = await send(creator, assets, assetsAbi, "list", [kind, price, `http://localhost:3000/api/metadata/x-${kind}`, `0x${"11".repeat(32)}`]);
      const listedEvent = events(r.logs, assets, assetsAbi).find((e) => e.name === "AssetListed")!;
      listed.push(listedEvent.args.slot as bigint);
      listedTokens.push(listedEvent.args.tokenId as bigint);
    }
    // The listing's token, as AssetListed reports it (token ids and slot ids diverge once shares are split).
    const appToken = listedTokens[0];

    // Deposit 1 mUSD.
    await send(payer, usd, usdAbi, "mint", [payer.address, 1_000_000n]);
    await send(payer, usd, usdAbi, "approve", [settlement, 1_000_000n]);
    await send(payer, settlement, settlementAbi, "deposit", [1_000_000n]);
    expect(await read(settlement, settlementAbi, "balanceOf", [payer.address])).toBe(1_000_000n);

    // The wallet signs one session for the browser's key.
    const block = await client.getBlock();
    const session: Session = { payer: payer.address, key: sessionKey.address, spendCap: 500_000n, expiry: block.timestamp + 3600n, nonce: 1n };
    const sessionSignature = await signSession(payer, ctx, session);
    expect(await verifySession(ctx, session, sessionSignature)).toBe(true);
    expect(await read(settlement, settlementAbi, "hashSession", [session.payer, session.key, session.spendCap, session.expiry, session.nonce])).toBe(
      hashSession(session),
    );

    // Three receipts: two good ones (the second with an unused dataset charged 0) and one with a bad signature.
    const maxAmounts = [20_000n, 10_000n, 5_000n, 5_000n];
    const receipt = (nonce: bigint): Receipt => ({ payer: payer.address, slots: listed, maxAmounts, nonce, deadline: session.expiry });
    const r1 = receipt(1n);
    const r2 = receipt(2n);
    const r3 = receipt(3n);
    const s1 = await signReceipt(sessionKey, ctx, r1);
    const s2 = await signReceipt(sessionKey, ctx, r2);
    const s3 = await signReceipt(sessionKey, ctx, r3);
    expect(await verifyReceipt(ctx, r1, s1, sessionKey.address)).toBe(true);
    const forged = (s3.slice(0, 10) + (s3[10] === "a" ? "b" : "a") + s3.slice(11)) as Hex;

    const batch = encodeBatch({
      sessions: [{ session, signature: sessionSignature }],
      receipts: [
        { sessionIndex: 0, receipt: r1, signature: s1 },
        { sessionIndex: 0, receipt: r2, signature: s2, amounts: [20_000n, 10_000n, 5_000n, 0n] },
        { sessionIndex: 0, receipt: r3, signature: forged },
      ],
    });
    const settleReceipt = await send(settler, settlement, settlementAbi, "settle", [batch]);
    const logs = events(settleReceipt.logs, settlement, settlementAbi);

    expect(logs.find((e) => e.name === "SessionRegistered")?.args.sessionHash).toBe(hashSession(session));
    const settled = logs.filter((e) => e.name === "ReceiptSettled");
    expect(settled.map((e) => e.args.nonce)).toEqual([1n, 2n]);
    expect(decodeCharges(settled[0].args.charges as bigint[])).toEqual(listed.map((slot, i) => ({ slot, amount: maxAmounts[i] })));
    expect(decodeCharges(settled[1].args.charges as bigint[]).map((c) => c.amount)).toEqual([20_000n, 10_000n, 5_000n, 0n]);
    const rejected = logs.filter((e) => e.name === "ReceiptRejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0].args.nonce).toBe(3n);
    expect(rejectReasonName(Number(rejected[0].args.reason))).not.toBe("None");
    const batchEvent = logs.find((e) => e.name === "BatchSettled")!;
    expect(batchEvent.args.settled).toBe(2n);
    expect(batchEvent.args.rejected).toBe(1n);
    expect(batchEvent.args.gross).toBe(75_000n);

    // Balances and claimable.
    expect(await read(settlement, settlementAbi, "balanceOf", [payer.address])).toBe(1_000_000n - 75_000n);
    expect(await read(settlement, settlementAbi, "nonceUsed", [payer.address, 1n])).toBe(true);
    expect(await read(settlement, settlementAbi, "nonceUsed", [payer.address, 3n])).toBe(false);
    const appNet = 40_000n - (40_000n * BigInt(feeBps)) / 10_000n;
    expect(await read(assets, assetsAbi, "claimable", [appToken])).toBe(appNet);

    // A replay of receipt 1 (session now registered: no wallet signature needed) is rejected.
    const replay = await send(settler, settlement, settlementAbi, "settle", [
      encodeBatch({ sessions: [{ session }], receipts: [{ sessionIndex: 0, receipt: r1, signature: s1 }] }),
    ]);
    const replayLogs = events(replay.logs, settlement, settlementAbi);
    expect(replayLogs.filter((e) => e.name === "ReceiptSettled")).toHaveLength(0);
    const replayRejected = replayLogs.find((e) => e.name === "ReceiptRejected")!;
    expect(rejectReasonName(Number(replayRejected.args.reason))).toBe("Replayed");
    expect(await read(settlement, settlementAbi, "balanceOf", [payer.address])).toBe(1_000_000n - 75_000n);

    // The holder claims; anyone may trigger it, the owner is paid.
    const before = (await read(usd, usdAbi, "balanceOf", [creator.address])) as bigint;
    const claimReceipt = await send(settler, assets, assetsAbi, "claim", [appToken]);
    const claimed = events(claimReceipt.logs, assets, assetsAbi).find((e) => e.name === "RevenueClaimed")!;
    expect(claimed.args.amount).toBe(appNet);
    expect(((await read(usd, usdAbi, "balanceOf", [creator.address])) as bigint) - before).toBe(appNet);
    expect(await read(assets, assetsAbi, "claimable", [appToken])).toBe(0n);

    // The payer holds the session key: it settles its next receipt itself first, charging nothing, to burn
    // the nonce. Only an authorized settler may charge less than the signed maxima: rejected, nonce open.
    const r4 = receipt(4n);
    const s4 = await signReceipt(sessionKey, ctx, r4);
    const frontRun = await send(payer, settlement, settlementAbi, "settle", [
      encodeBatch({ sessions: [{ session }], receipts: [{ sessionIndex: 0, receipt: r4, signature: s4, amounts: [0n, 0n, 0n, 0n] }] }),
    ]);
    const frontRunLogs = events(frontRun.logs, settlement, settlementAbi);
    expect(frontRunLogs.filter((e) => e.name === "ReceiptSettled")).toHaveLength(0);
    expect(rejectReasonName(Number(frontRunLogs.find((e) => e.name === "ReceiptRejected")!.args.reason))).toBe("AmountNotSignedMax");
    expect(await read(settlement, settlementAbi, "nonceUsed", [payer.address, 4n])).toBe(false);
    // Anyone may still settle it at exactly its signed maxima.
    const atMax = await send(payer, settlement, settlementAbi, "settle", [
      encodeBatch({ sessions: [{ session }], receipts: [{ sessionIndex: 0, receipt: r4, signature: s4 }] }),
    ]);
    expect(events(atMax.logs, settlement, settlementAbi).filter((e) => e.name === "ReceiptSettled")).toHaveLength(1);
    expect(await read(settlement, settlementAbi, "balanceOf", [payer.address])).toBe(1_000_000n - 75_000n - 40_000n);
  });

  it("registers a smart-wallet payer's session from its ERC-1271 signature, sent unchanged", async () => {
    const { assets, settlement, usd } = addresses;
    const ctx = { chainId, settlement };
    const creator = await freshAccount();
    const owner = privateKeyToAccount(generatePrivateKey()); // the wallet's signer
    const sessionKey = privateKeyToAccount(generatePrivateKey());
    const listedReceipt = await send(creator, assets, assetsAbi, "list", [2, 20_000n, "http://localhost:3000/api/metadata/w", `0x${"22".repeat(32)}`]);
    const slot = events(listedReceipt.logs, assets, assetsAbi).find((e) => e.name === "AssetListed")!.args.slot as bigint;

    // A contract wallet (contracts/test/utils/MockWallets.sol) that approves what its owner signed; it
    // deposits through anvil's impersonation, as its owner would through the wallet.
    const wallet = artifact("MockWallets", "SignerWallet");
    const deployer = await freshAccount();
    const deployHash = await createWalletClient({ account: deployer, chain: { ...foundry, id: chainId }, transport: http(rpcUrl) }).deployContract({
      abi: wallet.abi,
      bytecode: wallet.bytecode.object,
      args: [owner.address],
    });
    const walletAddress = (await client.waitForTransactionReceipt({ hash: deployHash })).contractAddress!;
    await client.request({ method: "anvil_setBalance" as never, params: [walletAddress, `0x${parseEther("1").toString(16)}`] as never });
    await impersonating(walletAddress, async () => {
      await send(walletAddress, usd, usdAbi, "mint", [walletAddress, 100_000n]);
      await send(walletAddress, usd, usdAbi, "approve", [settlement, 100_000n]);
      await send(walletAddress, settlement, settlementAbi, "deposit", [100_000n]);
    });

    const block = await client.getBlock();
    const session: Session = { payer: walletAddress, key: sessionKey.address, spendCap: 100_000n, expiry: block.timestamp + 3600n, nonce: 1n };
    // Not an EOA signature: the owner's signature of the session digest plus wallet-specific bytes (69 bytes).
    const signature = concatHex([await owner.sign({ hash: sessionDigest(ctx, session) }), "0xdeadbeef"]);
    expect(await verifySession(ctx, session, signature)).toBe(false); // no EOA signed it
    const r1: Receipt = { payer: walletAddress, slots: [slot], maxAmounts: [20_000n], nonce: 1n, deadline: session.expiry };
    // Anyone may settle receipts at their signed maxima: here the account that deployed the wallet.
    const settled = await send(deployer, settlement, settlementAbi, "settle", [
      encodeBatch({
        sessions: [{ session, signature }],
        receipts: [{ sessionIndex: 0, receipt: r1, signature: await signReceipt(sessionKey, ctx, r1) }],
      }),
    ]);
    const logs = events(settled.logs, settlement, settlementAbi);
    expect(logs.find((e) => e.name === "SessionRegistered")?.args.sessionHash).toBe(hashSession(session));
    expect(logs.filter((e) => e.name === "ReceiptSettled")).toHaveLength(1);
    expect(await read(settlement, settlementAbi, "balanceOf", [walletAddress])).toBe(80_000n);
  });
});
