// Account size benchmark: `npx tsx bench/accounts.ts` (part of `npm run bench`). A paid message's
// admission reads its account (the newest voucher, the open receipts, the session's open count) in the
// statement the chat route sends (lib/chat/store.ts admissionQuery, run here through Prisma as the route
// runs it). A wallet that has sent many messages, an API key's above all, has that many receipts: this
// measures the reading for an account of 100 receipts and of 100,000 (the oldest settled, the newest
// three pending, as a busy account's are), on an embedded PostgreSQL with the real migrations. The
// reading must not grow with the account: the largest may take at most 5 times the smallest's p95.
// Writes bench/results/accounts.json.
import fs from "node:fs";
import path from "node:path";
import { startTemporaryPostgres } from "../scripts/stack/postgres";
import { migrateDatabase } from "../scripts/stack/db";
import { createDb } from "../lib/db-client";
import { admissionQuery } from "../lib/chat/store";

const ROOT = path.resolve(import.meta.dirname, "..");
const SIZES = [100, 100_000];
const ROUNDS = 200;
const MAX_GROWTH = 5;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const pg = await startTemporaryPostgres("kip-bench-accounts-");
  try {
    await migrateDatabase(pg.url);
    const db = createDb(pg.url);
    const settlement = "0x2222222222222222222222222222222222222222";
    const operator = "0x3333333333333333333333333333333333333333";
    const results: Record<string, { p50: number; p95: number }> = {};
    for (const [i, size] of SIZES.entries()) {
      // Each size is its own payer and session: the accounts share the table, as on a real server.
      const payer = `0x${String(i + 1).repeat(40)}`;
      const session = `0x${String(i + 1).repeat(64)}`;
      await db.$executeRaw`INSERT INTO "PaymentSession" ("hash", "chainId", "settlement", "payer", "key", "operator", "spendCap", "expiry", "nonce", "signature")
        VALUES (${session}, 31337, ${settlement}, ${payer}, ${payer}, ${operator}, '1000000000', 2000000000, '1', '0x')`;
      await db.$executeRaw`INSERT INTO "Receipt" ("id", "chainId", "settlement", "payer", "operator", "seq", "issuedAt", "sessionHash", "slotsJson", "maxAmountsJson",
          "charges", "cumulativeMax", "maxTotal", "signature", "status", "appId", "conversationId", "updatedAt")
        SELECT ${`r${i}-`} || g, 31337, ${settlement}, ${payer}, ${operator}, g::text, 0, ${session}, '[]', '[]', '0x', (g * 10)::text, '10', '0x',
          CASE WHEN g > ${size} - 3 THEN 'pending' ELSE 'settled' END, 'app', 'conversation', now()
        FROM generate_series(1, ${size}::int) AS g`;
    }
    await db.$executeRaw`ANALYZE`;
    for (const [i, size] of SIZES.entries()) {
      const payer = `0x${String(i + 1).repeat(40)}`;
      const query = admissionQuery({ chainId: 31337, settlement, operator, payer }, `0x${String(i + 1).repeat(64)}`, { conversationId: "conversation", appId: "app" }, []);
      const [row] = await db.$queryRaw<{ latest: [string, string] }[]>`${query}`;
      if (row.latest[0] !== String(size)) throw new Error(`the newest voucher of ${size} read as ${row.latest[0]}`);
      for (let r = 0; r < 20; r++) await db.$queryRaw`${query}`;
      const times: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const t = performance.now();
        await db.$queryRaw`${query}`;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      results[String(size)] = { p50: round(percentile(times, 50)), p95: round(percentile(times, 95)) };
      console.log(`account of ${size.toLocaleString("en")} receipts: admission reading p50 ${results[String(size)].p50} ms, p95 ${results[String(size)].p95} ms`);
    }
    await db.$disconnect();
    const growth = round(results[String(SIZES[1])].p95 / results[String(SIZES[0])].p95);
    const out = { admissionReadMs: results, growthP95: growth, rounds: ROUNDS, measuredAt: new Date().toISOString() };
    fs.mkdirSync(path.join(ROOT, "bench", "results"), { recursive: true });
    fs.writeFileSync(path.join(ROOT, "bench", "results", "accounts.json"), `${JSON.stringify(out, null, 2)}\n`);
    console.log(`p95 at ${SIZES[1].toLocaleString("en")} receipts / at ${SIZES[0]}: ${growth} (at most ${MAX_GROWTH})${growth > MAX_GROWTH ? "   MISSED" : ""}`);
    console.log("wrote bench/results/accounts.json");
    if (growth > MAX_GROWTH) process.exitCode = 1;
  } finally {
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
