// Deploy guards: off a local chain, the mock token, a short withdrawal delay, public test keys and demo
// seeding are refused unless the operator names the risk with --unsafe.
import { describe, expect, it } from "vitest";
import { generatePrivateKey } from "viem/accounts";
import { ANVIL_KEYS } from "@/scripts/stack/anvil";
import { assertSafeDeploy, deployRisks, isPublicTestKey } from "@/scripts/stack/guards";

const realToken = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const safe = { local: false, chainId: 84532, paymentToken: realToken, withdrawDelay: "86400", keys: [{ name: "DEPLOYER_PRIVATE_KEY", key: generatePrivateKey() }] };

describe("deploy guards", () => {
  it("accept a careful plan and anything on a local chain", () => {
    expect(deployRisks(safe)).toEqual([]);
    expect(deployRisks({ ...safe, local: true, paymentToken: undefined, withdrawDelay: "0", keys: [{ name: "DEPLOYER_PRIVATE_KEY", key: ANVIL_KEYS[0] }] })).toEqual([]);
  });

  it("name each risk off a local chain", () => {
    const risks = deployRisks({
      ...safe,
      paymentToken: undefined,
      withdrawDelay: "0",
      keys: [
        { name: "DEPLOYER_PRIVATE_KEY", key: ANVIL_KEYS[0] },
        { name: "SETTLER_PRIVATE_KEY", key: ANVIL_KEYS[9] },
      ],
      seedDemo: true,
    });
    expect(risks).toHaveLength(5);
    expect(risks.join("\n")).toMatch(/MockUSD/);
    expect(risks.join("\n")).toMatch(/WITHDRAW_DELAY is 0 s/);
    expect(risks.join("\n")).toMatch(/DEPLOYER_PRIVATE_KEY is one of anvil's public test keys/);
    expect(risks.join("\n")).toMatch(/SETTLER_PRIVATE_KEY is one of anvil's public test keys/);
    expect(risks.join("\n")).toMatch(/SEED_DEMO=force/);
    expect(deployRisks({ ...safe, withdrawDelay: "3599" })).toHaveLength(1);
    expect(deployRisks({ ...safe, paymentToken: `0x${"0".repeat(40)}` })).toHaveLength(1);
  });

  it("knows keys of the public mnemonic beyond the ten anvil prints", () => {
    expect(isPublicTestKey(ANVIL_KEYS[3])).toBe(true);
    // Account #15 of "test test ... junk" (derived, not in anvil's list).
    expect(isPublicTestKey("0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356")).toBe(true);
    expect(isPublicTestKey(generatePrivateKey())).toBe(false);
  });

  it("refuse unless --unsafe, and then log what was accepted", () => {
    const risky = { ...safe, withdrawDelay: "60" };
    expect(() => assertSafeDeploy(risky, false)).toThrow(/Refusing to deploy to chain 84532:[\s\S]*WITHDRAW_DELAY is 60 s[\s\S]*--unsafe/);
    const logged: string[] = [];
    assertSafeDeploy(risky, true, (line) => logged.push(line));
    expect(logged).toEqual([expect.stringMatching(/^UNSAFE \(accepted with --unsafe\): WITHDRAW_DELAY/)]);
  });
});
