"use client";
// The app's header: product name, the areas, network, sign-in. Below `lg` the areas collapse into a
// menu: five links, the network and the wallet do not fit beside each other on a tablet either.
// The signed-in address appears once (SignedInAddress, the SIWE session's); the wallet button shows only
// the wallet's avatar, and opens RainbowKit's account modal. No wallet code loads until it is clicked.
import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";
import { NetworkBadge } from "@/components/web3/network-badge";
import { SignedInAddress } from "@/components/web3/signed-in-address";
import { HeaderWalletButton } from "@/components/web3/wallet-button";

const NAV = [
  { href: "/", label: "Marketplace" },
  { href: "/create", label: "Create" },
  { href: "/chat", label: "Chat" },
  { href: "/dashboard", label: "Dashboard" },
  { href: "/protocol", label: "Protocol" },
] as const;

function isActive(pathname: string, href: string): boolean {
  return href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(`${href}/`);
}

/** The areas as a list of links, the current one marked (desktop bar and phone menu). */
function NavLinks(props: {
  pathname: string;
  listClassName: string;
  linkClassName: string;
  idleClassName: string;
  onNavigate?: () => void;
}) {
  return (
    <ul className={props.listClassName}>
      {NAV.map((item) => {
        const active = isActive(props.pathname, item.href);
        return (
          <li key={item.href}>
            <Link
              href={item.href}
              aria-current={active ? "page" : undefined}
              onClick={props.onNavigate}
              className={`${props.linkClassName} ${active ? "bg-brand-50 text-brand-800" : props.idleClassName}`}
            >
              {item.label}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}

export function AppHeader() {
  const pathname = usePathname();
  const [menuOpen, setMenuOpen] = useState(false);

  return (
    <header className="sticky top-0 z-40 border-b border-line bg-white/90 backdrop-blur">
      <div className="mx-auto flex h-16 max-w-6xl items-center gap-3 px-4 sm:gap-4 sm:px-6">
        <Link href="/" className="flex shrink-0 items-center gap-2 rounded-md whitespace-nowrap" aria-label="KIP Marketplace, home">
          <span className="grid size-8 place-items-center rounded-lg bg-brand-700 text-sm font-bold text-white" aria-hidden>
            K
          </span>
          <span className="text-base font-semibold tracking-tight text-ink" aria-hidden>
            KIP<span className="hidden sm:inline"> Marketplace</span>
          </span>
        </Link>

        <nav aria-label="Main" className="ml-2 hidden min-w-0 lg:block xl:ml-4">
          <NavLinks
            pathname={pathname}
            listClassName="flex items-center gap-1"
            linkClassName="whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium transition-colors"
            idleClassName="text-muted hover:bg-slate-100 hover:text-ink"
          />
        </nav>

        <div className="ml-auto flex min-w-0 shrink-0 items-center gap-2 sm:gap-3">
          <div className="hidden xl:block">
            <NetworkBadge />
          </div>
          <SignedInAddress testId="signed-in-address" className="hidden lg:flex" />
          <div className="shrink-0 whitespace-nowrap">
            <HeaderWalletButton />
          </div>
          <button
            type="button"
            className="inline-flex size-10 shrink-0 items-center justify-center rounded-md border border-line text-ink hover:bg-slate-50 lg:hidden"
            aria-expanded={menuOpen}
            aria-controls="mobile-menu"
            aria-label={menuOpen ? "Close menu" : "Open menu"}
            onClick={() => setMenuOpen((open) => !open)}
          >
            <svg viewBox="0 0 24 24" className="size-5" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
              {menuOpen ? <path d="M6 6l12 12M18 6L6 18" strokeLinecap="round" /> : <path d="M4 7h16M4 12h16M4 17h16" strokeLinecap="round" />}
            </svg>
          </button>
        </div>
      </div>

      {menuOpen ? (
        <div id="mobile-menu" className="border-t border-line bg-white lg:hidden">
          <nav aria-label="Main (mobile)" className="mx-auto max-w-6xl px-4 py-3">
            <NavLinks
              pathname={pathname}
              listClassName="flex flex-col gap-1"
              linkClassName="block rounded-md px-3 py-2 text-base font-medium"
              idleClassName="text-ink hover:bg-slate-100"
              onNavigate={() => setMenuOpen(false)}
            />
            <div className="mt-3 flex flex-wrap items-center gap-3 border-t border-line pt-3">
              <NetworkBadge />
              <SignedInAddress className="flex min-w-0" />
            </div>
          </nav>
        </div>
      ) : null}
    </header>
  );
}
