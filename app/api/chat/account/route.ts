// GET /api/chat/account[?session=0x…]: the signed-in wallet's account with this server's operator: where
// its vouchers stand (the newest seq and cumulative maximum, which the browser's next voucher builds on),
// what its receipts not yet on chain hold, and what counts against a session's spend cap; and for one of its
// spending sessions, whether it is known and revoked and what it has spent. Balances themselves are read
// from the chain by the browser.
import { getAddress, isAddressEqual, type Address } from "viem";
import { requireSession } from "@/lib/auth/session";
import { readAccount } from "@/lib/chat/balance";
import { chatErrorResponse } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { paymentSession, sessionSpent } from "@/lib/chat/store";
import { getDb } from "@/lib/db";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const payer = getAddress(signedIn.address);
    const db = getDb();
    const chain = chatChain();
    const sessionHash = new URL(request.url).searchParams.get("session");
    const [account, counts, session] = await Promise.all([
      readAccount(db, chain, payer),
      db.receipt.groupBy({ by: ["status"], where: { chainId: chain.chainId, settlement: chain.settlement, payer }, _count: { _all: true } }),
      sessionHash && /^0x[0-9a-fA-F]{64}$/.test(sessionHash) ? paymentSession(db, sessionHash) : Promise.resolve(null),
    ]);
    const own = session && isAddressEqual(session.payer as Address, payer) ? session : null;
    const spent = own ? await sessionSpent(db, own.hash) : 0n;
    return Response.json(
      {
        payer,
        // The server's clock (unix seconds): the page dates its next voucher by it, not by the device's.
        serverTime: Math.floor(Date.now() / 1000),
        pending: account.pending.toString(),
        // What the next voucher builds on, and what counts against a session's cap (the account's total).
        position: { seq: account.position.seq.toString(), cumulativeMax: account.position.cumulativeMax.toString() },
        committed: account.committed.toString(),
        receipts: Object.fromEntries(counts.map((c) => [c.status, c._count._all])),
        session: own ? { hash: own.hash, known: true, revokedAt: own.revokedAt, spent: spent.toString() } : null,
      },
      { headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return chatErrorResponse(error);
  }
}
