// HTTP range requests for downloads (RFC 9110 §14): one `bytes` range per request. A malformed header, another
// unit or several ranges are ignored (the whole file is sent, as the RFC allows); a range that starts past the
// end is unsatisfiable (416).
export type RangeAnswer =
  | { kind: "full" }
  | { kind: "partial"; start: number; end: number }
  | { kind: "unsatisfiable" };

const SPEC = /^bytes=(\d*)-(\d*)$/;

export function parseRange(header: string | null, size: number): RangeAnswer {
  if (!header) return { kind: "full" };
  const match = SPEC.exec(header.trim());
  if (!match) return { kind: "full" };
  const [, first, last] = match;
  if (first === "" && last === "") return { kind: "full" };
  if (first === "") {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(size - length, 0), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? Infinity : Number(last);
  if (!Number.isSafeInteger(start) || (last !== "" && !Number.isSafeInteger(end)) || end < start) return { kind: "full" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: Math.min(end, size - 1) };
}
