// POST /api/datasets, two ways:
//   - application/json {name, description, tags, license, price, uploads: [ids]}: the dataset is made from
//     finished resumable uploads (/api/uploads), files and archives, read from disk entry by entry. Each
//     refused document is listed in `refused` (name and reason); the others make the draft. The uploads
//     are deleted once used, and kept when the request fails, so a retry needs no new upload.
//   - multipart/form-data (name, description, tags, license, price, files[]; at most 25 MB, for scripts):
//     every file is checked (all or nothing).
// Both store the documents encrypted, create the dataset's draft listing and start indexing in the
// background. Answers 201 with the draft and the transaction to send.
import { AppError, readBodyBytes, readJsonBody } from "@/lib/errors";
import { enforceRouteLimit } from "@/lib/http/route-limits";
import { callerOf, handle, json } from "@/lib/http/route";
import { ownerListing } from "@/lib/listings/catalog";
import { createDatasetDraft, createDatasetDraftFromUploads } from "@/lib/listings/service";
import { DATASET_LIMITS, formatBytes } from "@/lib/rag/limits";
import { discardStaged, stagedFiles } from "@/lib/uploads/staging";
import { datasetFormSchema, datasetFromUploadsSchema } from "./schema";

// Room for the multipart framing and the text fields around the files.
const MAX_BODY_BYTES = DATASET_LIMITS.maxMultipartBytes + 256 * 1024;

export async function POST(request: Request) {
  return handle(async () => {
    const { address } = await callerOf(request);
    await enforceRouteLimit(request, "upload", address);
    const type = request.headers.get("content-type") ?? "";
    if (type.toLowerCase().startsWith("application/json")) {
      const { uploads, ...fields } = await readJsonBody(request, datasetFromUploadsSchema, { maxBytes: 512 * 1024 });
      const staged = await stagedFiles(address, uploads);
      const { listing, refused } = await createDatasetDraftFromUploads(address, fields, staged);
      await discardStaged(address, uploads);
      return json({ ...(await ownerListing(listing.id, address)), refused }, 201);
    }
    if (!type.toLowerCase().startsWith("multipart/form-data")) {
      throw new AppError("unsupported_media_type", "Send the dataset as application/json naming finished `uploads`, or as multipart/form-data with one or more `files`.");
    }
    // The limit holds as the bytes arrive, with or without Content-Length; nothing is stored before the
    // whole form is read and checked.
    const body = await readBodyBytes(request, MAX_BODY_BYTES).catch((error: unknown) => {
      if (error instanceof AppError && error.code === "payload_too_large") {
        throw new AppError("payload_too_large", `The upload is larger than ${formatBytes(MAX_BODY_BYTES)}; one multipart upload may be at most ${formatBytes(DATASET_LIMITS.maxMultipartBytes)} (use resumable uploads, /api/uploads, for more).`);
      }
      throw error;
    });
    let form: FormData;
    try {
      form = await new Response(body, { headers: { "content-type": type } }).formData();
    } catch {
      throw new AppError("bad_request", "The upload could not be read as multipart/form-data.");
    }
    const fields = datasetFormSchema.parse({
      name: form.get("name") ?? undefined,
      description: form.get("description") ?? undefined,
      tags: form.get("tags") ?? undefined,
      license: form.get("license") ?? undefined,
      price: form.get("price") ?? undefined,
    });
    const files = await Promise.all(
      form
        .getAll("files")
        .filter((value): value is File => typeof value !== "string")
        .map(async (file) => ({ filename: file.name, content: new Uint8Array(await file.arrayBuffer()) })),
    );
    const listing = await createDatasetDraft(address, fields, files);
    return json(await ownerListing(listing.id, address), 201);
  });
}
