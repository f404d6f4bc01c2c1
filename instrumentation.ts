// Runs once when a Next.js server process starts (before it serves requests).
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { recordPeerAddresses } = await import("./lib/http/client-address");
    recordPeerAddresses();
  }
}
