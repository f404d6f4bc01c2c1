// Calling the app over HTTP from tests: a route with an optional session cookie and JSON body, answered as
// its status and parsed body (a body that is not JSON comes back as { text }).
export type Json = Record<string, unknown> & { error?: { code: string; message: string } };

export async function callApp(appUrl: string, cookie: string | null, route: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (cookie) headers.set("cookie", cookie);
  if (json !== undefined) headers.set("content-type", "application/json");
  const response = await fetch(`${appUrl}${route}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
  const text = await response.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    body = { text };
  }
  return { status: response.status, body, headers: response.headers, response };
}
