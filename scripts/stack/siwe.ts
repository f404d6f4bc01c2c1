// Sign-In with Ethereum over real HTTP, as a wallet would: fetch a nonce, sign the EIP-4361 message,
// post it, and keep the session cookie. Used by the integration tests and the benchmarks.
import type { PrivateKeyAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";

/** Signs `account` in to the app at `appUrl`; returns the `kip_session=…` cookie pair. */
export async function signInOverHttp(appUrl: string, chainId: number, account: Pick<PrivateKeyAccount, "address" | "signMessage">): Promise<string> {
  const nonceResponse = await fetch(`${appUrl}/api/auth/nonce`);
  const { nonce } = (await nonceResponse.json()) as { nonce: string };
  // The nonce is bound to this client's binding cookie: send it back with the signed message.
  const binding = nonceResponse.headers.getSetCookie().find((c) => c.startsWith("kip_siwe_client="))?.split(";")[0] ?? "";
  const now = Date.now();
  const message = createSiweMessage({
    domain: new URL(appUrl).host,
    uri: appUrl,
    address: account.address,
    chainId,
    nonce,
    version: "1",
    issuedAt: new Date(now),
    expirationTime: new Date(now + 5 * 60_000),
  });
  const response = await fetch(`${appUrl}/api/auth/verify`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: binding },
    body: JSON.stringify({ message, signature: await account.signMessage({ message }) }),
  });
  if (!response.ok) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith("kip_session="));
  if (!cookie) throw new Error("sign-in answered without a session cookie");
  return cookie.split(";")[0];
}
