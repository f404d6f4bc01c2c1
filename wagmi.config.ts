// Typed ABIs for the app, generated from the forge artifacts by @wagmi/cli's Foundry plugin:
// `npm run abis` (also run by `npm start`). Output: lib/chain/generated.ts (generated, never edited).
import { defineConfig } from "@wagmi/cli";
import { foundry } from "@wagmi/cli/plugins";

export default defineConfig({
  out: "lib/chain/generated.ts",
  plugins: [
    foundry({
      project: "contracts",
      artifacts: "out",
      include: ["KipAssets.sol/**", "KipSettlement.sol/**", "KipLicences.sol/**", "MockUSD.sol/**"],
      // forge must run from contracts/ (foundry.toml names the solc shim relative to it), so
      // `npm run abis` builds first and the plugin only reads the artifacts.
      forge: { build: false },
    }),
  ],
});
