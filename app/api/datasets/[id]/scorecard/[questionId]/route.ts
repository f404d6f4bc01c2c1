// DELETE /api/datasets/:id/scorecard/:questionId: the owner removes a question; the figures are measured again.
import { AppError } from "@/lib/errors";
import { removeScorecardQuestion } from "@/lib/datasets/versions";
import { callerOf, handle, idFrom, json, listingIdSchema } from "@/lib/http/route";

export async function DELETE(request: Request, { params }: { params: Promise<{ id: string; questionId: string }> }) {
  return handle(async () => {
    const id = await idFrom(params);
    const questionId = listingIdSchema.safeParse((await params).questionId);
    if (!questionId.success) throw new AppError("bad_request", "Invalid request: malformed question id.");
    const { address } = await callerOf(request);
    return json({ figures: await removeScorecardQuestion(id, address, questionId.data) });
  });
}
