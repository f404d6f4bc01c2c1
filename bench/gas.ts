// Gas benchmark on a real local chain: `npx tsx bench/gas.ts` (or `npm run bench`).
// Starts anvil, deploys with the forge script, lists one app, one model and two datasets, registers 10
// payers' sessions, then measures from transaction receipts (gasUsed, so the 21,000 base and calldata count):
// settle with k = 1, 10 and 100 receipts (10 payers, 4 charges each) per receipt, one `list`, and a
// steady-state `claim` (a token that has claimed before). Writes bench/results/gas.json and exits non-zero
// if a target is missed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  toEventSelector,
  type Abi,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { ANVIL_KEYS, startAnvil } from "../scripts/stack/anvil";
import { deployContracts } from "../scripts/stack/deploy";
import { freePort } from "../scripts/stack/process";
import { encodeBatch, signReceipt, signSession, type BatchReceipt, type Receipt, type Session } from "../lib/protocol";

const ROOT = path.resolve(import.meta.dirname, "..");
const TARGETS = { settlePerReceipt100: 12_000, claim: 60_000, list: 300_000 };
const X402_PER_PAYMENT = "61,000-90,000";
const RECEIPT_SETTLED = toEventSelector("ReceiptSettled(address,uint256,bytes32,uint256[])");

function abi(name: string): Abi {
  const file = path.join(ROOT, "contracts", "out", `${name}.sol`, `${name}.json`);
  return JSON.parse(fs.readFileSync(file, "utf8")).abi as Abi;
}

async function main() {
  const port = await freePort();
  const anvil = await startAnvil({ port });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kip-bench-"));
  try {
    // The server's settler: authorized at deploy, like the app's (it may charge less than the signed maxima).
    const settler = privateKeyToAccount(ANVIL_KEYS[2]);
    const deployment = await deployContracts({
      rpcUrl: anvil.rpcUrl,
      chainId: anvil.chainId,
      privateKey: ANVIL_KEYS[0],
      deploymentFile: path.join(dir, "deployment.json"),
      env: { SETTLER: settler.address },
    });
    if (deployment.settler?.toLowerCase() !== settler.address.toLowerCase()) throw new Error("the settler was not authorized");
    const chain = { ...foundry, id: anvil.chainId };
    const client = createPublicClient({ chain, transport: http(anvil.rpcUrl) }) as PublicClient;
    const wallet = (account: PrivateKeyAccount) => createWalletClient({ account, chain, transport: http(anvil.rpcUrl) });
    const assetsAbi = abi("KipAssets");
    const settlementAbi = abi("KipSettlement");
    const usdAbi = abi("MockUSD");
    const settlement = deployment.settlement as Address;
    const assets = deployment.assets as Address;
    const usd = deployment.paymentToken as Address;
    const ctx = { chainId: anvil.chainId, settlement };

    const send = async (account: PrivateKeyAccount, address: Address, contractAbi: Abi, functionName: string, args: unknown[]) => {
      const hash = await wallet(account).writeContract({ address, abi: contractAbi, functionName, args, chain, account });
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`${functionName} reverted`);
      return receipt;
    };

    // ---- listings (creator = anvil account 1); list gas = the highest of the four
    const creator = privateKeyToAccount(ANVIL_KEYS[1]);
    const listings: [number, bigint, string][] = [
      [2, 20_000n, "app"],
      [1, 10_000n, "model"],
      [0, 5_000n, "data-a"],
      [0, 5_000n, "data-b"],
    ];
    let listGas = 0n;
    for (const [kind, price, name] of listings) {
      const uri = `http://localhost:3000/api/metadata/slots/${name}-0001.json`.padEnd(60, "x");
      const r = await send(creator, assets, assetsAbi, "list", [kind, price, uri, `0x${"ab".repeat(32)}`]);
      if (r.gasUsed > listGas) listGas = r.gasUsed;
    }
    const slots = [1n, 2n, 3n, 4n];
    const maxAmounts = listings.map(([, price]) => price);

    // ---- 10 payers: ETH for gas, mUSD deposits, one session each (fresh session keys)
    const funder = privateKeyToAccount(ANVIL_KEYS[0]);
    const payers = Array.from({ length: 10 }, () => privateKeyToAccount(generatePrivateKey()));
    const keys = Array.from({ length: 10 }, () => privateKeyToAccount(generatePrivateKey()));
    const latest = await client.getBlock();
    const expiry = latest.timestamp + 30n * 86_400n;
    const sessions: Session[] = [];
    const sessionSigs: Hex[] = [];
    for (const [i, payer] of payers.entries()) {
      await client.waitForTransactionReceipt({
        hash: await wallet(funder).sendTransaction({ to: payer.address, value: parseEther("1"), chain, account: funder }),
      });
      await send(payer, usd, usdAbi, "mint", [payer.address, 1_000_000_000n]);
      await send(payer, usd, usdAbi, "approve", [settlement, 1_000_000_000n]);
      await send(payer, settlement, settlementAbi, "deposit", [1_000_000_000n]);
      const session: Session = { payer: payer.address, key: keys[i].address, spendCap: 500_000_000n, expiry, nonce: 1n };
      sessions.push(session);
      sessionSigs.push(await signSession(payer, ctx, session));
    }

    const nextNonce = new Array<bigint>(10).fill(0n);
    const receiptsFor = async (perPayer: number, payerCount: number): Promise<BatchReceipt[]> => {
      const out: BatchReceipt[] = [];
      for (let i = 0; i < payerCount; i++) {
        for (let j = 0; j < perPayer; j++) {
          const receipt: Receipt = { payer: payers[i].address, slots, maxAmounts, nonce: nextNonce[i]++, deadline: expiry };
          out.push({ sessionIndex: i, receipt, signature: await signReceipt(keys[i], ctx, receipt) });
        }
      }
      return out;
    };
    const settle = async (batch: Hex, expected: number) => {
      const r = await send(settler, settlement, settlementAbi, "settle", [batch]);
      const settledLogs = r.logs.filter((log) => log.topics[0] === RECEIPT_SETTLED).length;
      if (settledLogs !== expected) throw new Error(`expected ${expected} settled receipts, saw ${settledLogs}`);
      return r.gasUsed;
    };

    // Registration batch: every session with its wallet signature, one receipt each (not measured).
    await settle(
      encodeBatch({ sessions: sessions.map((session, i) => ({ session, signature: sessionSigs[i] })), receipts: await receiptsFor(1, 10) }),
      10,
    );
    const registered = sessions.map((session) => ({ session }));
    const perReceipt: Record<string, number> = {};
    const r1 = await receiptsFor(1, 1);
    perReceipt["1"] = Number(await settle(encodeBatch({ sessions: registered.slice(0, 1), receipts: r1 }), 1));
    perReceipt["10"] = Math.round(Number(await settle(encodeBatch({ sessions: registered, receipts: await receiptsFor(1, 10) }), 10)) / 10);
    perReceipt["100"] = Math.round(Number(await settle(encodeBatch({ sessions: registered, receipts: await receiptsFor(10, 10) }), 100)) / 100);

    // ---- claim: the creator's app token claims once, earns again, then the measured claim
    await send(creator, assets, assetsAbi, "claim", [1n]);
    await settle(encodeBatch({ sessions: registered, receipts: await receiptsFor(1, 10) }), 10);
    const claimGas = (await send(creator, assets, assetsAbi, "claim", [1n])).gasUsed;

    const result = {
      listGas: Number(listGas),
      claimGas: Number(claimGas),
      settlePerReceiptGas: { "1": perReceipt["1"], "10": perReceipt["10"], "100": perReceipt["100"] },
    };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "gas.json"), `${JSON.stringify(result, null, 2)}\n`);

    const rows: [string, number, string, boolean][] = [
      ["settle, per receipt (k = 1)", result.settlePerReceiptGas["1"], "-", true],
      ["settle, per receipt (k = 10)", result.settlePerReceiptGas["10"], "-", true],
      [
        "settle, per receipt (k = 100)",
        result.settlePerReceiptGas["100"],
        `<= ${TARGETS.settlePerReceipt100} (x402: ${X402_PER_PAYMENT} per payment)`,
        result.settlePerReceiptGas["100"] <= TARGETS.settlePerReceipt100,
      ],
      ["claim (steady state)", result.claimGas, `<= ${TARGETS.claim}`, result.claimGas <= TARGETS.claim],
      ["list (~60-char URI)", result.listGas, `<= ${TARGETS.list}`, result.listGas <= TARGETS.list],
    ];
    console.log("\nGas (transaction receipts on anvil, 21,000 base and calldata included)\n");
    console.log(`${"measure".padEnd(32)}${"gas".padStart(10)}   target`);
    for (const [name, gas, target, ok] of rows) {
      console.log(`${name.padEnd(32)}${gas.toLocaleString("en-US").padStart(10)}   ${target}${ok ? "" : "   MISSED"}`);
    }
    console.log(`\nwrote bench/results/gas.json`);
    if (rows.some(([, , , ok]) => !ok)) process.exitCode = 1;
  } finally {
    await anvil.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
