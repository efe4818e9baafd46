/**
 * A loopback GitHub for the sign-in, following GitHub's documented endpoints for a GitHub App's user authorization
 * (served like a GitHub Enterprise Server: web at `/`, REST API under `/api/v3`):
 *
 * - `GET /login/oauth/authorize` (client_id, redirect_uri, state, code_challenge, code_challenge_method=S256): checks
 *   the client and the callback URL, then shows an authorize page with a login field and an "Authorize" button (a
 *   form posting to `/login/oauth/authorize`), which redirects to `redirect_uri?code=…&state=…`. With `?deny` the
 *   redirect carries `error=access_denied` instead, as GitHub's "Cancel" does.
 * - `POST /login/oauth/access_token` (client_id, client_secret, code, redirect_uri, code_verifier; JSON with
 *   `Accept: application/json`): a code works once, within ten minutes, for the same client and redirect URI, and
 *   only with the verifier matching its S256 challenge. Errors come as 200 with `error` and `error_description`, as
 *   GitHub's do. Tokens look like GitHub's user-to-server tokens (`ghu_…`) and expire in 8 hours.
 * - `GET /api/v3/user` and `GET /api/v3/repos/{owner}/{repo}` with `Authorization: Bearer`: 401 for an unknown or
 *   revoked token; a repository the user cannot read (private, not granted) is 404, as GitHub answers.
 *
 * Tests set who reads what (`grant`, `revoke`), revoke tokens, and count requests.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

interface Code {
  login: string;
  redirectUri: string;
  challenge?: string;
  at: number;
  used: boolean;
}

export interface FakeRepo {
  private: boolean;
  /** Logins (lowercase) that read it besides the public. */
  readers: Set<string>;
}

export class GitHubOAuthFake {
  readonly clientId = `Iv23li${randomBytes(5).toString("hex")}`;
  readonly clientSecret = randomBytes(20).toString("hex");
  readonly repos = new Map<string, FakeRepo>();
  readonly tokens = new Map<string, string>(); // token → login
  readonly requests: string[] = [];
  private readonly codes = new Map<string, Code>();
  private readonly users = new Map<string, number>();
  private server?: Server;
  /** The callback URLs registered for the App (exact match, as GitHub requires). */
  callbackUrls: string[] = [];
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((ok) => this.server!.listen(0, "127.0.0.1", ok));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  /** `host:port` for the GHE_HOST setting. */
  get host(): string {
    return new URL(this.url).host;
  }

  repo(fullName: string, isPrivate: boolean, readers: string[] = []): void {
    this.repos.set(fullName.toLowerCase(), {
      private: isPrivate,
      readers: new Set(readers.map((r) => r.toLowerCase())),
    });
  }

  grant(login: string, fullName: string): void {
    this.repos.get(fullName.toLowerCase())?.readers.add(login.toLowerCase());
  }

  revoke(login: string, fullName: string): void {
    this.repos.get(fullName.toLowerCase())?.readers.delete(login.toLowerCase());
  }

  /** Every token of `login` stops working (the user revoked the App's authorization). */
  revokeTokens(login: string): void {
    for (const [t, l] of this.tokens) if (l === login) this.tokens.delete(t);
  }

  count(prefix: string): number {
    return this.requests.filter((r) => r.startsWith(prefix)).length;
  }

  private userId(login: string): number {
    if (!this.users.has(login)) this.users.set(login, 1000 + this.users.size);
    return this.users.get(login)!;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push(`${req.method} ${url.pathname}`);
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    try {
      if (url.pathname === "/login/oauth/authorize" && req.method === "GET") return this.authorizePage(url, res);
      if (url.pathname === "/login/oauth/authorize" && req.method === "POST")
        return this.authorize(await form(req), res);
      if (url.pathname === "/login/oauth/access_token" && req.method === "POST")
        return json(200, this.exchange(await form(req)));
      const login = this.tokens.get((req.headers.authorization ?? "").replace(/^Bearer /i, ""));
      if (url.pathname.startsWith("/api/v3/") && !login)
        return json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
      if (url.pathname === "/api/v3/user") return json(200, { login, id: this.userId(login!), type: "User" });
      const m = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (m) {
        const full = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
        const repo = this.repos.get(full.toLowerCase());
        const reads = repo && (!repo.private || repo.readers.has(login!.toLowerCase()));
        if (!repo || !reads)
          return json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
        const member = repo.readers.has(login!.toLowerCase());
        return json(200, {
          full_name: full,
          private: repo.private,
          permissions: { admin: false, maintain: false, push: member, triage: member, pull: true },
        });
      }
      json(404, { message: "Not Found" });
    } catch (err) {
      json(500, { message: String(err) });
    }
  }

  private authorizePage(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    if (q.get("client_id") !== this.clientId) return void res.writeHead(404).end("unknown client_id");
    const redirect = q.get("redirect_uri") ?? "";
    if (!this.callbackUrls.includes(redirect))
      return void res
        .writeHead(400, { "content-type": "text/plain" })
        .end("The redirect_uri is not associated with this application.");
    const method = q.get("code_challenge_method");
    if (q.get("code_challenge") && method !== "S256") return void res.writeHead(400).end("only S256 is supported");
    const hidden = ["redirect_uri", "state", "code_challenge"]
      .map((k) => `<input type="hidden" name="${k}" value="${escape(q.get(k) ?? "")}">`)
      .join("");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end(`<!doctype html><title>Authorize preview-bot</title>
<h1>Authorize preview-bot</h1><form method="post" action="/login/oauth/authorize">${hidden}
<label>Sign in as <input name="login" autocomplete="username"></label>
<button type="submit">Authorize</button> <button type="submit" name="deny" value="1">Cancel</button></form>`);
  }

  private authorize(f: URLSearchParams, res: ServerResponse): void {
    const back = new URL(f.get("redirect_uri") ?? "");
    if (f.get("deny")) back.searchParams.set("error", "access_denied");
    else {
      const code = randomBytes(10).toString("hex");
      this.codes.set(code, {
        login: f.get("login") ?? "",
        redirectUri: f.get("redirect_uri") ?? "",
        ...(f.get("code_challenge") ? { challenge: f.get("code_challenge")! } : {}),
        at: Date.now(),
        used: false,
      });
      back.searchParams.set("code", code);
    }
    back.searchParams.set("state", f.get("state") ?? "");
    res.writeHead(302, { location: back.toString() }).end();
  }

  private exchange(f: URLSearchParams): Record<string, unknown> {
    const bad = (error: string, description: string) => ({ error, error_description: description });
    if (f.get("client_id") !== this.clientId || f.get("client_secret") !== this.clientSecret)
      return bad("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
    const code = this.codes.get(f.get("code") ?? "");
    if (!code || code.used || Date.now() - code.at > 600_000)
      return bad("bad_verification_code", "The code passed is incorrect or expired.");
    if (code.redirectUri !== f.get("redirect_uri"))
      return bad(
        "redirect_uri_mismatch",
        "The redirect_uri MUST match the registered callback URL for this application.",
      );
    const verifier = f.get("code_verifier");
    if (code.challenge && (!verifier || createHash("sha256").update(verifier).digest("base64url") !== code.challenge))
      return bad("bad_verification_code", "The code_verifier does not match the code_challenge.");
    code.used = true;
    const token = `ghu_${randomBytes(18).toString("base64url").replace(/[-_]/g, "x")}`;
    this.tokens.set(token, code.login);
    return {
      access_token: token,
      expires_in: 28_800,
      refresh_token: `ghr_${randomBytes(30).toString("hex")}`,
      refresh_token_expires_in: 15_897_600,
      token_type: "bearer",
      scope: "",
    };
  }
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
