// Sign-In with Ethereum over real HTTP: kept in scripts/stack (benchmarks sign in the same way).
export { signInOverHttp } from "../../scripts/stack/siwe";
