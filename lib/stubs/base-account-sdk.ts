// Stands in for `@base-org/account` in the app bundle (see next.config.ts). wagmi's Base Account
// connector imports that SDK lazily; the app never offers that wallet, and the SDK pulls in
// @coinbase/cdp-sdk, whose optional x402 packages are not installed, which fails the build.
export function createBaseAccountSDK(): never {
  throw new Error("The Base Account wallet is not available in this app.");
}
