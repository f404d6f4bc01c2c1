// GET /api/chat/account: the signed-in wallet's charges the chain does not show yet (pending receipts)
// and the next unused receipt number. Balances themselves are read from the chain by the browser.
import { getAddress } from "viem";
import { requireSession } from "@/lib/auth/session";
import { pendingCharges } from "@/lib/chat/admission";
import { chatErrorResponse } from "@/lib/chat/errors";
import { chatChain } from "@/lib/chat/server";
import { getDb } from "@/lib/db";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  try {
    const signedIn = await requireSession();
    const payer = getAddress(signedIn.address);
    const db = getDb();
    const chain = chatChain();
    const [pending, receipts] = await Promise.all([
      pendingCharges(db, chain, payer),
      db.receipt.findMany({ where: { chainId: chain.chainId, settlement: chain.settlement, payer }, select: { nonce: true } }),
    ]);
    const highest = receipts.reduce((max, r) => (BigInt(r.nonce) > max ? BigInt(r.nonce) : max), 0n);
    const counts = await db.receipt.groupBy({
      by: ["status"],
      where: { chainId: chain.chainId, settlement: chain.settlement, payer },
      _count: { _all: true },
    });
    return Response.json(
      {
        payer,
        pending: pending.toString(),
        nextNonce: (highest + 1n).toString(),
        receipts: Object.fromEntries(counts.map((c) => [c.status, c._count._all])),
      },
      { headers: { "Cache-Control": "no-store" } },
    );
  } catch (error) {
    return chatErrorResponse(error);
  }
}
