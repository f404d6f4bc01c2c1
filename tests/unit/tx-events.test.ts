// The /tx page's decoding: the payment token's ERC-20 events decoded (not "other event"), and every
// argument tagged as a token amount, shares, a slot, a time or an address.
import { encodeAbiParameters, encodeEventTopics, erc20Abi, type Abi, type Address, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { kipAssetsAbi, kipSettlementAbi } from "@/lib/chain/generated";
import { decodeTxLog, slotsOf, type TxContract } from "@/lib/chain/tx-events";

const TOKEN: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ASSETS: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const SETTLEMENT: Address = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const PAYER: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const contracts = new Map<string, TxContract>([
  [TOKEN.toLowerCase(), "paymentToken"],
  [ASSETS.toLowerCase(), "assets"],
  [SETTLEMENT.toLowerCase(), "settlement"],
]);

/** A log as the node returns it, built from the event's ABI. */
function logOf(address: Address, abi: Abi, eventName: string, args: Record<string, unknown>, logIndex = 0) {
  const event = abi.find((item) => item.type === "event" && item.name === eventName);
  if (!event || event.type !== "event") throw new Error(`no event ${eventName}`);
  const topics = encodeEventTopics({ abi: [event], eventName, args } as never) as [Hex, ...Hex[]];
  const unindexed = event.inputs.filter((input) => !input.indexed);
  const data = encodeAbiParameters(unindexed, unindexed.map((input) => args[input.name!]));
  return { address: address.toLowerCase() as Address, topics, data, logIndex };
}

describe("decodeTxLog", () => {
  it("decodes the payment token's Transfer and Approval, with the value as a token amount", () => {
    const transfer = decodeTxLog(logOf(TOKEN, erc20Abi, "Transfer", { from: PAYER, to: SETTLEMENT, value: 11_700n }), contracts);
    expect(transfer).toMatchObject({ contract: "paymentToken", name: "Transfer", address: TOKEN });
    expect(transfer.fields).toEqual([
      { name: "from", value: { kind: "address", address: PAYER } },
      { name: "to", value: { kind: "address", address: SETTLEMENT } },
      { name: "value", value: { kind: "amount", units: 11_700n } },
    ]);
    const approval = decodeTxLog(logOf(TOKEN, erc20Abi, "Approval", { owner: PAYER, spender: SETTLEMENT, value: 5n }), contracts);
    expect(approval.name).toBe("Approval");
    expect(approval.fields.at(-1)).toEqual({ name: "value", value: { kind: "amount", units: 5n } });
  });

  it("tells a slot's revenue (an amount) from an ERC-3525 value (shares)", () => {
    const credited = decodeTxLog(logOf(ASSETS, kipAssetsAbi as Abi, "RevenueCredited", { slot: 10n, amount: 3000n }), contracts);
    expect(credited.fields).toEqual([
      { name: "slot", value: { kind: "slot", slot: 10n } },
      { name: "amount", value: { kind: "amount", units: 3000n } },
    ]);
    const moved = decodeTxLog(logOf(ASSETS, kipAssetsAbi as Abi, "TransferValue", { _fromTokenId: 1n, _toTokenId: 2n, _value: 250_000n }), contracts);
    expect(moved.fields).toEqual([
      { name: "fromTokenId", value: { kind: "tokenId", tokenId: 1n } },
      { name: "toTokenId", value: { kind: "tokenId", tokenId: 2n } },
      { name: "value", value: { kind: "shares", value: 250_000n } },
    ]);
    expect(slotsOf([credited, moved])).toEqual([10n]);
  });

  it("decodes settlement events the earnings index does not keep, and names a rejection", () => {
    const deposited = decodeTxLog(logOf(SETTLEMENT, kipSettlementAbi as Abi, "Deposited", { payer: PAYER, operator: PAYER, amount: 10n ** 19n, balance: 10n ** 19n }), contracts);
    expect(deposited.name).toBe("Deposited");
    expect(deposited.fields.map((f) => f.value.kind)).toEqual(["address", "address", "amount", "amount"]);
    // v3 names the skipped item by its position in the batch, and its reason by the renumbered values.
    const rejected = decodeTxLog(logOf(SETTLEMENT, kipSettlementAbi as Abi, "SessionRejected", { item: 2n, session: `0x${"ab".repeat(32)}`, reason: 8 }), contracts);
    expect(rejected.fields.map((f) => f.name)).toEqual(["item", "session", "reason"]);
    expect(rejected.fields[0]).toEqual({ name: "item", value: { kind: "text", text: "2" } });
    expect(rejected.fields[2]).toEqual({ name: "reason", value: { kind: "text", text: "AboveMax (8)" } });
    const requested = decodeTxLog(logOf(SETTLEMENT, kipSettlementAbi as Abi, "WithdrawalRequested", { payer: PAYER, operator: PAYER, amount: 1n, readyAt: 1_776_000_000n }), contracts);
    expect(requested.fields.at(-1)).toEqual({ name: "readyAt", value: { kind: "time", timestamp: 1_776_000_000 } });
  });

  it("leaves another contract's logs undecoded", () => {
    const other = decodeTxLog(logOf("0x0000000000000000000000000000000000000bad", erc20Abi, "Transfer", { from: PAYER, to: PAYER, value: 1n }), contracts);
    expect(other).toMatchObject({ contract: null, name: null, fields: [] });
  });
});
