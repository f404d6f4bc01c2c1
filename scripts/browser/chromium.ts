// Headless Chromium for the browser tests and the web benchmark: Debian's /usr/bin/chromium
// (CHROMIUM_PATH overrides) driven through playwright-core. The background-networking flags keep
// Chromium from calling out of this offline machine.
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}
