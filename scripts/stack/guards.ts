// What deploying to, or seeding, a non-local chain must not do by accident: use the open-mint MockUSD as
// the payment token, let withdrawals leave before the operator can settle what it admitted, or sign with
// a key anyone can look up (anvil's public mnemonic). Each is refused unless the operator passes
// `--unsafe`, which names the risk it accepts. Local chains (31337, or LOCAL_CHAIN_IDS) are exempt.
import type { Hex } from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";

export const ANVIL_MNEMONIC = "test test test test test test test test test test test junk";
/** How many of the mnemonic's accounts count as public (anvil shows 10; tools derive more). */
const PUBLIC_ACCOUNTS = 30;
const MIN_WITHDRAW_DELAY_S = 3600;

let publicAddresses: Set<string> | undefined;

/** True when `key` belongs to one of the well-known development accounts. */
export function isPublicTestKey(key: string): boolean {
  publicAddresses ??= new Set(
    Array.from({ length: PUBLIC_ACCOUNTS }, (_, addressIndex) => mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex }).address.toLowerCase()),
  );
  return publicAddresses.has(privateKeyToAccount(key as Hex).address.toLowerCase());
}

export interface DeployPlan {
  local: boolean;
  chainId: number;
  paymentToken?: string;
  withdrawDelay?: string;
  keys: { name: string; key?: string }[];
  seedDemo?: boolean;
}

/** The risks in a plan; empty on a local chain. */
export function deployRisks(plan: DeployPlan): string[] {
  if (plan.local) return [];
  const risks: string[] = [];
  if (!plan.paymentToken || /^0x0{40}$/i.test(plan.paymentToken)) {
    risks.push("PAYMENT_TOKEN is unset, so the open-mint MockUSD would become the payment token: anyone could mint balances");
  }
  const delay = plan.withdrawDelay === undefined || plan.withdrawDelay === "" ? 86_400 : Number(plan.withdrawDelay);
  if (!Number.isFinite(delay) || delay < MIN_WITHDRAW_DELAY_S) {
    risks.push(`WITHDRAW_DELAY is ${plan.withdrawDelay} s: under ${MIN_WITHDRAW_DELAY_S} s a payer could withdraw before the operator settles what it answered`);
  }
  for (const { name, key } of plan.keys) {
    if (key && isPublicTestKey(key)) risks.push(`${name} is one of anvil's public test keys: anyone can sign with it`);
  }
  if (plan.seedDemo) risks.push("SEED_DEMO=force lists the demo assets from anvil's public test accounts");
  return risks;
}

/** Throws, naming every risk, unless there are none or the operator accepted them with --unsafe. */
export function assertSafeDeploy(plan: DeployPlan, unsafe: boolean, log: (line: string) => void = () => {}): void {
  const risks = deployRisks(plan);
  if (risks.length === 0) return;
  if (unsafe) {
    for (const risk of risks) log(`UNSAFE (accepted with --unsafe): ${risk}`);
    return;
  }
  throw new Error(
    `Refusing to deploy to chain ${plan.chainId}:\n${risks.map((risk) => `  - ${risk}`).join("\n")}\n` +
      "Fix these, or pass --unsafe to accept the risks named above (never with real funds).",
  );
}
