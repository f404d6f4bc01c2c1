// GET /api/chat/account[?session=0x…]: the signed-in wallet's charges the chain does not show yet (pending
// receipts), and for one of its spending sessions the newest voucher admitted, which the browser's next
// voucher must build on. Balances themselves are read from the chain by the browser.
import { getAddress, isAddressEqual, type Address } from "viem";
import { requireSession } from "@/lib/auth/session";
import { pendingCharges } from "@/lib/chat/admission";
import { chatErrorResponse } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { latestVoucher, paymentSession, sessionSpent } from "@/lib/chat/store";
import { getDb } from "@/lib/db";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const payer = getAddress(signedIn.address);
    const db = getDb();
    const chain = chatChain();
    const sessionHash = new URL(request.url).searchParams.get("session");
    const [pending, counts, session] = await Promise.all([
      pendingCharges(db, chain, payer),
      db.receipt.groupBy({ by: ["status"], where: { chainId: chain.chainId, settlement: chain.settlement, payer }, _count: { _all: true } }),
      sessionHash && /^0x[0-9a-fA-F]{64}$/.test(sessionHash) ? paymentSession(db, sessionHash) : Promise.resolve(null),
    ]);
    const own = session && isAddressEqual(session.payer as Address, payer) ? session : null;
    const [voucher, spent] = own ? await Promise.all([latestVoucher(db, own.hash), sessionSpent(db, own.hash)]) : [null, 0n];
    return Response.json(
      {
        payer,
        // The server's clock (unix seconds): the page dates its next voucher by it, not by the device's.
        serverTime: Math.floor(Date.now() / 1000),
        pending: pending.toString(),
        receipts: Object.fromEntries(counts.map((c) => [c.status, c._count._all])),
        session: own
          ? {
              hash: own.hash,
              known: true,
              revokedAt: own.revokedAt,
              spent: spent.toString(),
              voucher: voucher ? { seq: voucher.seq.toString(), slots: voucher.slots.map(String), maxAmounts: voucher.maxAmounts.map(String) } : null,
            }
          : null,
      },
      { headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return chatErrorResponse(error);
  }
}
