// Runs once when a Next.js server process starts (before it serves requests).
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { recordPeerAddresses } = await import("./lib/http/client-address");
    recordPeerAddresses();
    // Model endpoint health probes (shared with the other servers through the database).
    if (process.env.NEXT_PHASE !== "phase-production-build") {
      const { startModelHealthProbes } = await import("./lib/models/health-server");
      try {
        startModelHealthProbes();
      } catch (error) {
        console.error(`model health probes not started: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
