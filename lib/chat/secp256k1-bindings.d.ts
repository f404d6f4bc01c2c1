// The `secp256k1` package's native binding on its own (the package's main entry falls back to JavaScript).
declare module "secp256k1/bindings.js" {
  const binding: typeof import("secp256k1");
  export default binding;
}
