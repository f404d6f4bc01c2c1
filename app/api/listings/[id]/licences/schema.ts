import { licencePathProblem, MAX_LICENCE_PATH } from "@/lib/licences/paths";
import { z } from "@/lib/zod";

const tokenAmount = z.string().regex(/^\d{1,30}(\.\d{1,18})?$/, "must be an amount in whole tokens, like 12.5");
/** A file's name within a version (lib/licences/paths.ts): relative, no "..", backslashes, control or format characters. */
const filePath = z
  .string()
  .min(1)
  .max(MAX_LICENCE_PATH)
  .refine((p) => licencePathProblem(p) === null, "must be a relative file name without '..', backslashes, control or invisible characters");

/** POST /api/listings/:id/licences: a draft version from finished uploads and files of earlier versions. */
export const licenceDraftSchema = z.object({
  terms: z.string().trim().min(1, "write the licence terms").max(20_000),
  price: tokenAmount,
  upgradePrice: tokenAmount,
  files: z
    .array(
      z.union([
        z.object({ upload: z.string().regex(/^[0-9a-f]{32}$/, "must be an upload id from /api/uploads"), path: filePath.optional() }).strict(),
        z.object({ file: z.string().regex(/^[0-9a-f]{32}$/, "must be a file id of an earlier version"), path: filePath.optional() }).strict(),
      ]),
    )
    .min(1, "add at least one file")
    .max(200),
});

/** POST /api/listings/:id/licences/confirm: the creator's publishVersion transaction for a draft. */
export const licenceConfirmSchema = z.object({
  versionId: z.string().regex(/^[a-z0-9]{20,40}$/, "malformed version id"),
  txHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte transaction hash"),
});
