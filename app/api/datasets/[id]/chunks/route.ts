// GET /api/datasets/:id/chunks?offset&limit: the owner's preview of how the documents were chunked.
// Chunks are the dataset's content: nobody else reads them except through paid retrieval.
import { requireSession } from "@/lib/auth/session";
import { getDb } from "@/lib/db";
import { handle, idFrom, json } from "@/lib/http/route";
import { ownedListing } from "@/lib/listings/service";
import { chunksQuerySchema } from "./schema";

export const dynamic = "force-dynamic";

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const { address } = await requireSession();
    await ownedListing(id, address);
    const { offset, limit } = chunksQuerySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
    const db = getDb();
    const [total, chunks] = await Promise.all([
      db.chunk.count({ where: { datasetId: id } }),
      db.chunk.findMany({
        where: { datasetId: id },
        orderBy: [{ document: { position: "asc" } }, { position: "asc" }],
        skip: offset,
        take: limit,
        select: { id: true, position: true, text: true, document: { select: { filename: true } } },
      }),
    ]);
    return json({
      total,
      offset,
      chunks: chunks.map((c) => ({ id: c.id, filename: c.document.filename, position: c.position, chars: c.text.length, text: c.text })),
    });
  });
}
