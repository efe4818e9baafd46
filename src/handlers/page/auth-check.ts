/**
 * GET /auth/check: the external authorization endpoint gateways call for every request to a protected preview.
 *
 * Two callers, told apart by their headers:
 * - ingress-nginx (`auth-url`): its subrequest carries `X-Original-URL` (scheme, host, URI of the visitor's request)
 *   and the visitor's headers. nginx's auth_request accepts only 2xx (pass), 401 and 403: 401 sends the visitor to
 *   `auth-signin` (this bot's /auth/signin, with `rd` set to the original URL by ingress-nginx). A 2xx answer's
 *   Set-Cookie reaches the browser, which is how the preview host gets its access cookie.
 * - Envoy (Envoy Gateway's SecurityPolicy extAuth, or a Gateway API HTTPRoute ExternalAuth filter on an Envoy-based
 *   implementation): the check request is the visitor's own method, `Host` and path, prefixed with `/auth/check`.
 *   A denial is passed to the browser as it is, so a redirect works: 302 to the sign-in for a page load, and the
 *   grant is turned into the host's cookie by a 302 to the same URL without it.
 *
 * Anyone can call this endpoint with any headers: it only ever answers for the cookie or token presented, about the
 * host named, so forging the headers gains nothing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BYPASS_HEADER, BYPASS_PARAM } from "../../services/shared/page-data.js";
import { escapeHtml } from "./html.js";
import type { PageAuth } from "./page-auth.js";
import { GRANT_PARAM, type SignedIn } from "./sessions.js";

type Mode = "nginx" | "envoy";

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The visitor's original request, as the calling gateway describes it. */
function originalRequest(req: IncomingMessage): { mode: Mode; url: URL } | undefined {
  const xo = header(req, "x-original-url");
  try {
    if (xo) return { mode: "nginx", url: new URL(xo) };
    const raw = req.url ?? "/";
    let path = raw.startsWith("/auth/check") ? raw.slice("/auth/check".length) : raw;
    if (!path.startsWith("/")) path = `/${path}`;
    if (path.startsWith("//")) path = path.slice(1);
    const host = header(req, "x-forwarded-host") ?? header(req, "host");
    if (!host) return undefined;
    const proto = (header(req, "x-forwarded-proto") ?? "https").split(",")[0]!.trim() === "http" ? "http" : "https";
    return { mode: "envoy", url: new URL(`${proto}://${host}${path}`) };
  } catch {
    return undefined;
  }
}

/** Constant-time equality of two secrets of any length (compared as SHA-256 digests). */
function sameSecret(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

function answer(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string | string[]> = {},
): void {
  res
    .writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers })
    .end(text);
}

export async function authCheck(auth: PageAuth, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const original = originalRequest(req);
  if (!original) return answer(res, 403, "no original request");
  const { mode, url } = original;
  const host = url.hostname.toLowerCase();
  // A host or a token the last listing does not know yet (a preview just deployed): ask once more, fresh.
  let target = (await auth.o.previewForHost(host)) ?? (await auth.o.previewForHost(host, { fresh: true }));
  if (!target) return answer(res, 403, "not a preview host");
  if (target.access === "public") return answer(res, 200, "public");

  const presented = header(req, BYPASS_HEADER) ?? url.searchParams.get(BYPASS_PARAM) ?? undefined;
  if (presented) {
    const matches = (t: typeof target) => Boolean(t?.bypassToken && sameSecret(presented, t.bypassToken));
    if (!matches(target)) target = (await auth.o.previewForHost(host, { fresh: true })) ?? target;
    if (matches(target)) return answer(res, 200, "bypass");
  }

  const clean = new URL(url);
  clean.searchParams.delete(GRANT_PARAM);
  const signIn = () => {
    const wantsPage = ["GET", "HEAD"].includes(req.method ?? "GET") && /text\/html/.test(header(req, "accept") ?? "");
    if (mode === "envoy" && wantsPage)
      return answer(res, 302, "sign in", {
        location: `${auth.o.settings.botUrl}/auth/signin?rd=${encodeURIComponent(clean.toString())}`,
      });
    return answer(res, 401, "sign in");
  };

  // Just back from the sign-in: the grant becomes this host's cookie.
  const granted = auth.sessions.openGrant(url.searchParams.get(GRANT_PARAM) ?? undefined, host);
  const v: SignedIn | undefined = granted ?? auth.sessions.hostVisitor(req.headers.cookie, host);
  if (!v) return signIn();

  const access = await auth.readAccess(v, target.owner, target.repo);
  if (access === "unauthorized") return signIn();
  if (access === "error") return answer(res, 503, "could not check access");
  if (access === "none") {
    auth.o.logger.debug({ login: v.login, host }, "preview request refused: not a reader");
    const body = `<!doctype html><title>Not for you</title><h1>You can't open this preview</h1><p>${escapeHtml(v.login)} cannot read ${escapeHtml(`${target.owner}/${target.repo}`)}.</p>`;
    return void res
      .writeHead(403, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
      .end(body);
  }
  if (!granted) return answer(res, 200, "ok");
  const cookie = auth.sessions.accessCookie(v, host);
  if (mode === "envoy") return answer(res, 302, "signed in", { location: clean.toString(), "set-cookie": [cookie] });
  return answer(res, 200, "signed in", { "set-cookie": [cookie] });
}
