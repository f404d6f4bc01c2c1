import type { Metadata } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { AppHeader } from "@/components/layout/app-header";
import { Providers } from "@/components/web3/providers";
import { currentSession, type SignedInSession } from "@/lib/auth/session";
import { readPublicConfig, type PublicConfig } from "@/lib/chain/public-config";
import { EnvError } from "@/lib/env";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "KIP Marketplace", template: "%s · KIP Marketplace" },
  description:
    "A decentralized marketplace for AI assets: datasets, models and apps listed as ERC-3525 slots, paid per query.",
  // public/: the favicon, the app icons (rendered from it) and the web app manifest.
  icons: { icon: [{ url: "/favicon.svg", type: "image/svg+xml" }], apple: [{ url: "/apple-touch-icon.png", sizes: "180x180" }] },
  manifest: "/manifest.webmanifest",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Configuration is read per request, so one build serves any chain.
  await connection();
  let config: PublicConfig;
  try {
    config = readPublicConfig();
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    return (
      <html lang="en">
        <body>
          <ConfigurationError issues={error.issues} />
        </body>
      </html>
    );
  }

  // Who is signed in, known before any script runs: the header and the pages render for that wallet.
  let session: SignedInSession | null = null;
  try {
    session = await currentSession();
  } catch (error) {
    console.error(error);
  }

  return (
    <html lang="en">
      <body className="min-h-screen">
        <a href="#content" className="sr-only focus:not-sr-only focus:absolute focus:left-4 focus:top-4 focus:z-50 focus:rounded-md focus:bg-white focus:px-3 focus:py-2 focus:shadow">
          Skip to content
        </a>
        <Providers config={config} session={session}>
          <AppHeader />
          <main id="content" className="mx-auto w-full max-w-6xl px-4 py-8 sm:px-6 sm:py-10">
            {children}
          </main>
          <footer className="border-t border-line">
            <div className="mx-auto max-w-6xl px-4 py-6 text-xs text-muted sm:px-6">
              KIP Marketplace · open-source marketplace for AI assets · {config.chainName} (chain {config.chainId})
            </div>
          </footer>
        </Providers>
      </body>
    </html>
  );
}

/** Shown instead of the app when the server's environment is invalid (names variables, never values). */
function ConfigurationError({ issues }: { issues: EnvError["issues"] }) {
  return (
    <main className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-2xl font-semibold">The server is not configured</h1>
      <p className="mt-3 text-muted">Fix these environment variables and restart the server:</p>
      <ul className="mt-4 list-disc space-y-1 pl-6 font-mono text-sm">
        {issues.map((issue) => (
          <li key={`${issue.variable}:${issue.message}`}>
            {issue.variable} {issue.message}
          </li>
        ))}
      </ul>
    </main>
  );
}
