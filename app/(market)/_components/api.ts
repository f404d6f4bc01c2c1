// Calls to the app's own API from the browser: JSON in and out, and the server's error message (never a
// bare status) in the thrown Error.
export class ApiError extends Error {
  constructor(
    message: string,
    public readonly status: number,
    public readonly code: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: T }> {
  const { json, ...rest } = init;
  const response = await fetch(path, {
    ...rest,
    headers: json !== undefined ? { "content-type": "application/json", ...rest.headers } : rest.headers,
    body: json !== undefined ? JSON.stringify(json) : rest.body,
    cache: "no-store",
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as { error?: { message?: string; code?: string } } | null)?.error;
    throw new ApiError(error?.message ?? `${response.status} ${response.statusText}`, response.status, error?.code ?? "internal");
  }
  return { status: response.status, body: body as T };
}

/** A zod-style "Invalid request: field: message; field: message" split into per-field messages. */
export function fieldErrors(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  const detail = message.replace(/^Invalid request: /, "");
  for (const part of detail.split("; ")) {
    const match = /^([\w.\[\]]+): (.+)$/.exec(part);
    if (match) out[match[1].split(".")[0]] ??= match[2];
  }
  return out;
}
