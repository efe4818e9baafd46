/**
 * Signing visitors in with GitHub as the GitHub App itself (user-to-server authorization: the App's own client id and
 * secret, no second OAuth app), and what their token may read.
 *
 * - The web application flow: `/login/oauth/authorize` with `state` and PKCE (S256, the only method GitHub accepts;
 *   supported for GitHub Apps since July 2025), then `/login/oauth/access_token` with the code and the verifier.
 *   `@octokit/oauth-methods` does the same two requests but has no PKCE, hence these few lines.
 * - `GET /user` for the login.
 * - Read access to a repository: `GET /repos/{owner}/{repo}` with the user's token. A user access token reaches only
 *   what both the user and the App can reach, so a private repository the visitor cannot read answers 404, and one
 *   they can read answers 200 with `permissions.pull` true (for a public repository every signed-in user reads).
 *   One request per repository, unlike `GET /user/installations/{id}/repositories` (paginated over every repository
 *   of the installation the user can see).
 *
 * GitHub Enterprise Server: every URL comes from the host setting (GHE_HOST, GHE_PROTOCOL). Tokens are returned to
 * the caller and never logged or put into errors.
 */
import { createHash, randomBytes } from "node:crypto";
import { describeError } from "../shared/format.js";

export interface GitHubEndpoints {
  /** Where people sign in: `https://github.com` or `https://<GHES host>`. */
  web: string;
  /** The REST API: `https://api.github.com` or `https://<GHES host>/api/v3`. */
  api: string;
}

/** GitHub's web and API base URLs for `github.com` or a GitHub Enterprise Server host (`host[:port]`). */
export function githubEndpoints(host = "github.com", protocol = "https"): GitHubEndpoints {
  if (host === "github.com") return { web: "https://github.com", api: "https://api.github.com" };
  return { web: `${protocol}://${host}`, api: `${protocol}://${host}/api/v3` };
}

export interface UserAuthOptions {
  clientId: string;
  clientSecret: string;
  endpoints: GitHubEndpoints;
  /** Send PKCE parameters (default true; an older GitHub Enterprise Server may not know them). */
  pkce?: boolean;
  fetchImpl?: typeof fetch;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

export interface UserToken {
  token: string;
  /** When GitHub expires it (ms since the epoch), for Apps with expiring user tokens (the default). */
  expiresAt?: number;
}

export interface GitHubUser {
  login: string;
  id: number;
}

/** `read`: the token reads the repository; `none`: it does not; `unauthorized`: the token itself is no longer valid. */
export type RepoAccess = "read" | "none" | "unauthorized";

class UserAuthError extends Error {}

/** A PKCE verifier (43 characters from 32 random bytes) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export class GitHubUserAuth {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: UserAuthOptions) {
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Where to send the browser: GitHub's authorization page for this App. */
  authorizeUrl(p: { state: string; redirectUri: string; codeChallenge?: string }): string {
    const url = new URL("/login/oauth/authorize", this.opts.endpoints.web);
    url.searchParams.set("client_id", this.opts.clientId);
    url.searchParams.set("redirect_uri", p.redirectUri);
    url.searchParams.set("state", p.state);
    if (this.opts.pkce !== false && p.codeChallenge) {
      url.searchParams.set("code_challenge", p.codeChallenge);
      url.searchParams.set("code_challenge_method", "S256");
    }
    return url.toString();
  }

  /** Exchange the callback's code for the user's token. */
  async exchange(p: { code: string; redirectUri: string; codeVerifier?: string }): Promise<UserToken> {
    const body = new URLSearchParams({
      client_id: this.opts.clientId,
      client_secret: this.opts.clientSecret,
      code: p.code,
      redirect_uri: p.redirectUri,
    });
    if (this.opts.pkce !== false && p.codeVerifier) body.set("code_verifier", p.codeVerifier);
    const what = "signing in with GitHub: exchanging the authorization code";
    const res = await this.request(what, new URL("/login/oauth/access_token", this.opts.endpoints.web), {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    if (!res.ok) throw new UserAuthError(`${what}: GitHub answered ${res.status}`);
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    // GitHub answers 200 with an `error` for a bad, used or expired code, or a wrong verifier.
    if (typeof json.error === "string")
      throw new UserAuthError(
        `${what}: GitHub refused it: ${json.error}${typeof json.error_description === "string" ? ` (${json.error_description})` : ""}`,
      );
    if (typeof json.access_token !== "string" || json.access_token === "")
      throw new UserAuthError(`${what}: GitHub's answer has no access_token`);
    const expiresIn = typeof json.expires_in === "number" ? json.expires_in : Number(json.expires_in);
    return {
      token: json.access_token,
      ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    };
  }

  /** The signed-in user (`GET /user`). */
  async user(token: string): Promise<GitHubUser> {
    const what = "signing in with GitHub: reading the user";
    const res = await this.api(what, "/user", token);
    if (!res.ok) throw new UserAuthError(`${what}: GitHub answered ${res.status}`);
    const json = (await res.json()) as { login?: unknown; id?: unknown };
    if (typeof json.login !== "string" || typeof json.id !== "number")
      throw new UserAuthError(`${what}: GitHub's answer has no login`);
    return { login: json.login, id: json.id };
  }

  /** Whether the token reads `owner/repo` (see the file's comment for why this endpoint). */
  async repoAccess(token: string, owner: string, repo: string): Promise<RepoAccess> {
    const what = `checking read access to ${owner}/${repo} with the visitor's token`;
    const res = await this.api(what, `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`, token);
    if (res.status === 401) return "unauthorized";
    if (res.status === 404 || res.status === 403) return "none";
    if (!res.ok) throw new UserAuthError(`${what}: GitHub answered ${res.status}`);
    const json = (await res.json()) as { private?: unknown; permissions?: { pull?: unknown } };
    if (json.permissions && typeof json.permissions.pull === "boolean") return json.permissions.pull ? "read" : "none";
    return json.private === false ? "read" : "none";
  }

  private api(what: string, path: string, token: string): Promise<Response> {
    return this.request(what, new URL(`${this.opts.endpoints.api}${path}`), {
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${token}`,
        "x-github-api-version": "2022-11-28",
        "user-agent": "preview-bot",
      },
    });
  }

  private async request(what: string, url: URL, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      // The cause names the host and the network error, never a header.
      throw new UserAuthError(`${what}: ${url.host} did not answer: ${describeError(err)}`, { cause: err });
    }
  }
}
