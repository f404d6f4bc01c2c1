// The session cookie's name, in a module of its own: the server's session code (lib/auth/session.ts) sets
// it, and the same-origin check (lib/errors.ts), which also runs outside Next.js, looks for it.
export const SESSION_COOKIE = "kip_session";
