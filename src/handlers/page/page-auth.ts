/**
 * The parts the sign-in and the pages share, built once from the settings: sealed cookies (Sessions), GitHub
 * (the App's user authorization) and the brief memory of who reads what. Building opens nothing: no timer, no
 * connection.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../logger.js";
import { RepoAccessCache } from "../../services/github/repo-access.js";
import { GitHubUserAuth, type RepoAccess } from "../../services/github/user-auth.js";
import { html, sendPage } from "./html.js";
import type { PageData, PreviewForHost } from "../../services/shared/page-data.js";
import { Sealer } from "./seal.js";
import { Sessions, type SignedIn } from "./sessions.js";
import type { PageSettings } from "./settings.js";

export interface PageOptions {
  settings: PageSettings;
  data: PageData;
  /** The preview a host serves, from the bot's namespaces' URL annotations. */
  previewForHost: PreviewForHost;
  logger: Logger;
  /** GitHub's HTTP client (tests: the loopback fake is reached through the host setting; this stays global fetch). */
  fetchImpl?: typeof fetch;
  now?: () => number;
}

export class PageAuth {
  readonly sessions: Sessions;
  readonly github: GitHubUserAuth;
  readonly access: RepoAccessCache;
  readonly now: () => number;

  constructor(readonly o: PageOptions) {
    this.now = o.now ?? Date.now;
    this.sessions = new Sessions(new Sealer(o.settings.secrets, this.now), {
      secure: o.settings.secureCookies,
      sessionTtlMs: o.settings.sessionTtlMs,
      now: this.now,
    });
    this.github = new GitHubUserAuth({
      clientId: o.settings.clientId,
      clientSecret: o.settings.clientSecret,
      endpoints: o.settings.github,
      ...(o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}),
    });
    this.access = new RepoAccessCache({
      check: (token, owner, repo) => this.github.repoAccess(token, owner, repo),
      ttlMs: o.settings.accessTtlMs,
      now: this.now,
    });
  }

  get callbackUrl(): string {
    return `${this.o.settings.botUrl}/auth/callback`;
  }

  /** Whether the visitor reads `owner/repo`; `error` when GitHub could not say (callers deny). */
  async readAccess(v: SignedIn, owner: string, repo: string): Promise<RepoAccess | "error"> {
    try {
      const a = await this.access.access(v.login, v.token, owner, repo);
      if (a === "unauthorized") this.access.forget(v.login);
      return a;
    } catch (err) {
      this.o.logger.warn({ err, login: v.login, repository: `${owner}/${repo}` }, "read access check failed: denied");
      return "error";
    }
  }

  /** The page to sign in again from, after something went wrong; never carries a token or GitHub's raw answer. */
  problem(
    res: ServerResponse,
    status: number,
    title: string,
    text: string,
    headers: Record<string, string | string[]> = {},
  ): void {
    sendPage(
      res,
      status,
      {
        title,
        body: html`<h1>${title}</h1>
          <p>${text}</p>
          <p><a href="/auth/signin">Sign in with GitHub</a></p>`,
      },
      headers,
    );
  }

  /** 302 with no caching. */
  redirect(res: ServerResponse, location: string, cookies: string[] = []): void {
    res
      .writeHead(302, { location, "cache-control": "no-store", ...(cookies.length ? { "set-cookie": cookies } : {}) })
      .end();
  }
}

/** The request's path and query (without the origin). */
export function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? "/", "http://bot.invalid");
}
