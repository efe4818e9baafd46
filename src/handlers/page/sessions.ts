/**
 * Who the visitor is, in sealed cookies (see seal.ts; the design is in docs/preview-access.md):
 *
 * - the session, on the bot's own host: login, id and the visitor's GitHub token, for PREVIEW_AUTH_SESSION_TTL (never
 *   longer than GitHub's token lives);
 * - the sign-in state, on the bot's host, for ten minutes: the `state` nonce GitHub echoes back (CSRF), the PKCE
 *   verifier and where to return;
 * - a grant: a 60-second, single-host hand-off from the bot's host to a preview host, carried in the preview URL's
 *   query (`preview-bot-grant`) because a cookie cannot cross hosts;
 * - the access cookie, on one preview host: the same identity sealed for that host only, ending with the session.
 *
 * A preview's own app sees its host's cookies (the gateway forwards them), so everything a preview host ever holds
 * is sealed for that host: it opens nowhere else, and it never opens as a session on the bot's host.
 */
import type { IncomingMessage } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { cookieName, readCookies, setCookie } from "./cookies.js";
import type { Sealer } from "./seal.js";

export interface Visitor {
  login: string;
  id: number;
  /** The visitor's GitHub user token: only ever inside sealed values, never logged or rendered. */
  token: string;
}

/** A visitor as read back from a sealed value, with when that value (and so the sign-in) ends. */
export type SignedIn = Visitor & { exp: number };

export interface SessionOptions {
  secure: boolean;
  sessionTtlMs: number;
  grantTtlMs?: number;
  stateTtlMs?: number;
  now?: () => number;
}

export const GRANT_PARAM = "preview-bot-grant";

export class Sessions {
  readonly names: { session: string; state: string; access: string };
  private readonly now: () => number;

  constructor(
    private readonly sealer: Sealer,
    private readonly o: SessionOptions,
  ) {
    this.names = {
      session: cookieName("preview-bot-session", o.secure),
      state: cookieName("preview-bot-state", o.secure),
      access: cookieName("preview-bot-access", o.secure),
    };
    this.now = o.now ?? Date.now;
  }

  /** The signed-in visitor on the bot's host, if any. */
  visitor(req: IncomingMessage): SignedIn | undefined {
    return this.identity(this.sealer.open<Visitor>("session", readCookies(req.headers.cookie).get(this.names.session)));
  }

  /** Set-Cookie for a new session; it ends with the GitHub token when that expires sooner. */
  sessionCookie(v: Visitor, tokenExpiresAt?: number): { cookie: string; signedIn: SignedIn } {
    let ttl = this.o.sessionTtlMs;
    if (tokenExpiresAt !== undefined) ttl = Math.min(ttl, tokenExpiresAt - this.now() - 60_000);
    ttl = Math.max(ttl, 60_000);
    const value = this.sealer.seal("session", { login: v.login, id: v.id, token: v.token }, ttl);
    return {
      cookie: setCookie(this.names.session, value, { secure: this.o.secure, maxAge: ttl / 1000 }),
      signedIn: { login: v.login, id: v.id, token: v.token, exp: this.now() + ttl },
    };
  }

  clearSession(): string {
    return setCookie(this.names.session, "", { secure: this.o.secure, maxAge: 0 });
  }

  /** A new sign-in: the `state` to send GitHub, and the cookie that binds it to this browser. */
  startSignIn(p: { verifier: string; rd: string }): { state: string; cookie: string } {
    const state = randomBytes(24).toString("base64url");
    const ttl = this.o.stateTtlMs ?? 600_000;
    const value = this.sealer.seal("state", { state, verifier: p.verifier, rd: p.rd }, ttl);
    return { state, cookie: setCookie(this.names.state, value, { secure: this.o.secure, maxAge: ttl / 1000 }) };
  }

  /** The sign-in this browser started, when `state` (from GitHub's redirect) is the one it was given. */
  finishSignIn(req: IncomingMessage, state: string): { verifier: string; rd: string } | undefined {
    const s = this.sealer.open<{ state?: unknown; verifier?: unknown; rd?: unknown }>(
      "state",
      readCookies(req.headers.cookie).get(this.names.state),
    );
    if (!s || typeof s.state !== "string" || typeof s.verifier !== "string" || typeof s.rd !== "string")
      return undefined;
    const a = Buffer.from(s.state);
    const b = Buffer.from(state);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return { verifier: s.verifier, rd: s.rd };
  }

  clearSignIn(): string {
    return setCookie(this.names.state, "", { secure: this.o.secure, maxAge: 0 });
  }

  /** A hand-off of this visitor to one preview host (see GRANT_PARAM). */
  grant(v: SignedIn, host: string): string {
    const ttl = Math.min(this.o.grantTtlMs ?? 60_000, v.exp - this.now());
    return this.sealer.seal(
      `grant:${host.toLowerCase()}`,
      { login: v.login, id: v.id, token: v.token, end: v.exp },
      ttl,
    );
  }

  /** The visitor a grant hands to `host`, if it is one, for this host, and not expired. */
  openGrant(sealed: string | undefined, host: string): SignedIn | undefined {
    const g = this.sealer.open<Visitor & { end?: unknown }>(`grant:${host.toLowerCase()}`, sealed);
    if (!g || typeof g.end !== "number") return undefined;
    return this.identity({ login: g.login, id: g.id, token: g.token, exp: g.end });
  }

  /** Set-Cookie for `host`: this visitor there, until the sign-in ends. */
  accessCookie(v: SignedIn, host: string): string {
    const ttl = v.exp - this.now();
    const value = this.sealer.seal(`access:${host.toLowerCase()}`, { login: v.login, id: v.id, token: v.token }, ttl);
    return setCookie(this.names.access, value, { secure: this.o.secure, maxAge: ttl / 1000 });
  }

  /** The visitor on a preview host, from that host's access cookie. */
  hostVisitor(cookieHeader: string | string[] | undefined, host: string): SignedIn | undefined {
    return this.identity(
      this.sealer.open<Visitor>(`access:${host.toLowerCase()}`, readCookies(cookieHeader).get(this.names.access)),
    );
  }

  clearAccess(): string {
    return setCookie(this.names.access, "", { secure: this.o.secure, maxAge: 0 });
  }

  private identity(v: (Partial<Visitor> & { exp?: unknown }) | undefined): SignedIn | undefined {
    if (!v || typeof v.login !== "string" || typeof v.id !== "number" || typeof v.token !== "string") return undefined;
    if (typeof v.exp !== "number" || v.exp <= this.now()) return undefined;
    return { login: v.login, id: v.id, token: v.token, exp: v.exp };
  }
}
