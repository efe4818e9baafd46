/**
 * Reading the Cookie header and writing Set-Cookie lines for the page's own cookies: always HttpOnly, SameSite=Lax and
 * Path=/, Secure unless the bot runs on http://localhost for development. Secure cookies take the `__Host-` prefix,
 * which browsers accept only when the cookie is Secure, has no Domain and has Path=/ — so no response (from a preview
 * on a sibling host, say) can plant a look-alike for a wider domain.
 */
export interface CookieOptions {
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

/** Cookie names: `__Host-<base>` when Secure, `<base>` otherwise. */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

/** The cookies of a request (first value wins for a repeated name). */
export function readCookies(header: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const text = Array.isArray(header) ? header.join("; ") : (header ?? "");
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** A Set-Cookie value. `value` must already be cookie-safe (sealed values are base64url). */
export function setCookie(name: string, value: string, o: CookieOptions): string {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error(`cookie ${name}: value is not cookie-safe`);
  return [
    `${name}=${value}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(o.maxAge))}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(o.secure ? ["Secure"] : []),
  ].join("; ");
}
