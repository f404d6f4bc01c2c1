// Zero-configuration secrets for a local install: generated once into <dataDir>/secrets.json (mode 0600)
// and re-used, so cookies and encrypted API keys survive a restart. Explicit env values always win.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface LocalSecrets {
  SESSION_SECRET: string;
  ENCRYPTION_KEY: string;
}

export function loadOrCreateSecrets(dataDir: string): LocalSecrets {
  const file = path.join(dataDir, "secrets.json");
  let stored: Partial<LocalSecrets> = {};
  if (fs.existsSync(file)) stored = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LocalSecrets>;
  const secrets: LocalSecrets = {
    SESSION_SECRET: stored.SESSION_SECRET ?? crypto.randomBytes(32).toString("hex"),
    ENCRYPTION_KEY: stored.ENCRYPTION_KEY ?? `0x${crypto.randomBytes(32).toString("hex")}`,
  };
  if (stored.SESSION_SECRET !== secrets.SESSION_SECRET || stored.ENCRYPTION_KEY !== secrets.ENCRYPTION_KEY) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  }
  return secrets;
}
