// The rules for a file's name within a licence version, in one place: the draft request's schema applies
// them to an explicit `path`, and the server applies them again to the EFFECTIVE path (the explicit one, or
// the uploaded file's tus `filename`, or a kept file's earlier name) before anything is stored, because the
// name goes into the on-chain file-list commitment and into a buyer's download.

export const MAX_LICENCE_PATH = 200;

/**
 * Why `path` is not an acceptable file name, or null when it is: relative, segments separated by "/", no
 * empty, "." or ".." segment, no backslash, no control characters and no Unicode format characters (Cf:
 * bidi overrides, zero-width joiners and the like, which make one name look like another).
 */
export function licencePathProblem(path: string): string | null {
  if (path.length === 0) return "is empty";
  if (path.length > MAX_LICENCE_PATH) return `is longer than ${MAX_LICENCE_PATH} characters`;
  if (/[\p{Cc}\p{Cf}]/u.test(path)) return "contains control or invisible formatting characters";
  if (path.includes("\\")) return "contains a backslash";
  if (path.startsWith("/")) return "must be relative";
  if (path.split("/").some((s) => s === "" || s === "." || s === "..")) return "must not have empty, '.' or '..' segments";
  return null;
}

/** The key under which two names count as the same file: case-insensitive, as on many filesystems. */
export function licencePathKey(path: string): string {
  return path.normalize("NFC").toLowerCase();
}
