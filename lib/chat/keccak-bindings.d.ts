// The `keccak` package's native entry (bindings.js), which ships no types: createKeccakHash on the addon.
declare module "keccak/bindings.js" {
  interface KeccakHash {
    update(data: Buffer): KeccakHash;
    digest(): Buffer;
  }
  const createKeccakHash: (algorithm: "keccak256") => KeccakHash;
  export default createKeccakHash;
}
