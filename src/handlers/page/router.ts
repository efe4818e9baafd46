/**
 * The page's door: one `(req, res) => Promise<boolean>` listener, like the other doors of src/server.ts (it answers
 * its own paths and returns false for everything else):
 *
 *   GET /previews                           the previews the visitor can read, and the backups they may see
 *   GET /previews/<owner>/<repo>/<number>   one preview: last deploy, diagnosis, recent logs
 *   GET /previews/<owner>/<repo>/<number>/logs   the same logs as plain text
 *   GET /auth/signin?rd=…  /auth/callback  /auth/signout      GitHub sign-in
 *   *   /auth/check[/…]                     external authorization for preview URLs (any method: Envoy sends the visitor's)
 *
 * Every page needs a signed-in visitor, whatever the repository's visibility (docs/preview-access.md says why); a
 * preview's page, logs included, needs read access to its repository.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { authCheck } from "./auth-check.js";
import { callback, signIn, signOut } from "./auth-routes.js";
import { html, securityHeaders, sendPage } from "./html.js";
import { PageAuth, requestUrl, type PageOptions } from "./page-auth.js";
import type { BackupTargetView, PagePreview, PreviewKeyParts } from "../../services/shared/page-data.js";
import type { SignedIn } from "./sessions.js";
import { listBody } from "./views-list.js";
import { logsText, previewBody } from "./views-preview.js";

export type { PageOptions } from "./page-auth.js";

const PREVIEW_PATH = /^\/previews\/([A-Za-z0-9-]{1,39})\/([A-Za-z0-9._-]{1,100})\/([1-9][0-9]{0,9})(\/logs)?\/?$/;
/** Repositories checked at once when building the list (each is one GitHub request when not cached). */
const CHECKS_AT_ONCE = 8;

export function createPageListener(opts: PageOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const auth = new PageAuth(opts);
  const now = auth.now;
  const log = opts.logger;

  /** The visitor, or a redirect to the sign-in that returns here. */
  function visitorOrSignIn(req: IncomingMessage, res: ServerResponse): SignedIn | undefined {
    const v = auth.sessions.visitor(req);
    if (!v) auth.redirect(res, `/auth/signin?rd=${encodeURIComponent(req.url ?? "/previews")}`);
    return v;
  }

  /** The repositories (lowercase `owner/repo`) among `repos` the visitor reads; `undefined` when their token is dead. */
  async function readable(v: SignedIn, repos: string[]): Promise<{ ok: Set<string>; failed: number } | undefined> {
    const ok = new Set<string>();
    let failed = 0;
    let dead = false;
    const queue = [...new Set(repos.map((r) => r.toLowerCase()))];
    const worker = async () => {
      for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
        const [owner, repo] = r.split("/") as [string, string];
        const a = await auth.readAccess(v, owner, repo);
        if (a === "read") ok.add(r);
        else if (a === "error") failed++;
        else if (a === "unauthorized") dead = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CHECKS_AT_ONCE, queue.length) }, worker));
    return dead ? undefined : { ok, failed };
  }

  /** Admins see every target; others those naming a repository they read (`owner/*`: any preview repo of that owner). */
  async function visibleTargets(
    v: SignedIn,
    targets: BackupTargetView[],
    reads: Set<string>,
  ): Promise<BackupTargetView[]> {
    if (opts.settings.admins.some((a) => a.toLowerCase() === v.login.toLowerCase())) return targets;
    const exact = targets.flatMap((t) => (t.allowedRepos ?? []).filter((r) => !r.endsWith("/*")));
    const more = await readable(v, exact);
    const all = new Set([...reads, ...(more?.ok ?? [])]);
    const owners = new Set([...all].map((r) => r.split("/")[0]));
    return targets.filter((t) =>
      (t.allowedRepos ?? []).some((r) =>
        r.endsWith("/*") ? owners.has(r.slice(0, -2).toLowerCase()) : all.has(r.toLowerCase()),
      ),
    );
  }

  async function list(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const v = visitorOrSignIn(req, res);
    if (!v) return;
    const [previews, targets] = await Promise.all([opts.data.previews(), opts.data.backups()]);
    const r = await readable(
      v,
      previews.map((p) => `${p.owner}/${p.repo}`),
    );
    if (!r) return auth.redirect(res, `/auth/signin?rd=%2Fpreviews`, [auth.sessions.clearSession()]);
    const shown: PagePreview[] = previews
      .filter((p) => r.ok.has(`${p.owner}/${p.repo}`.toLowerCase()))
      .sort((a, b) => `${a.owner}/${a.repo}`.localeCompare(`${b.owner}/${b.repo}`) || b.number - a.number);
    const backups = await visibleTargets(v, targets, r.ok);
    const body = listBody({ previews: shown, backups, now: now(), githubWeb: opts.settings.github.web });
    const note = r.failed
      ? html`<p role="status">
          GitHub did not answer for ${r.failed} ${r.failed === 1 ? "repository" : "repositories"}; their previews are
          not shown. Reload in a moment.
        </p>`
      : "";
    sendPage(res, 200, { title: "Previews", login: v.login, body: html`${note}${body}` });
  }

  async function one(
    req: IncomingMessage,
    res: ServerResponse,
    key: PreviewKeyParts,
    logsOnly: boolean,
  ): Promise<void> {
    const v = visitorOrSignIn(req, res);
    if (!v) return;
    const access = await auth.readAccess(v, key.owner, key.repo);
    if (access === "unauthorized")
      return auth.redirect(res, `/auth/signin?rd=${encodeURIComponent(req.url ?? "/previews")}`, [
        auth.sessions.clearSession(),
      ]);
    if (access === "error")
      return auth.problem(res, 503, "GitHub did not answer", "Could not check your access. Try again in a moment.");
    if (access === "none") {
      log.info({ login: v.login, repository: `${key.owner}/${key.repo}` }, "preview page refused: not a reader");
      return sendPage(res, 403, {
        title: "Not for you",
        login: v.login,
        body: html`<h1>You can't see this preview</h1>
          <p>
            GitHub says <strong>${v.login}</strong> cannot read <strong>${key.owner}/${key.repo}</strong> (through this
            GitHub App).
          </p>
          <p><a href="/previews">Previews you can read</a></p>`,
      });
    }
    const preview = await opts.data.preview(key);
    if (!preview)
      return sendPage(res, 404, {
        title: "No such preview",
        login: v.login,
        body: html`<h1>No such preview</h1>
          <p>${key.owner}/${key.repo} #${key.number} has no preview now.</p>
          <p><a href="/previews">All previews</a></p>`,
      });
    const logs = await opts.data.logs(key);
    if (logsOnly)
      return void res
        .writeHead(200, { ...securityHeaders(), "content-type": "text/plain; charset=utf-8" })
        .end(logsText(logs));
    sendPage(res, 200, {
      title: `${key.owner}/${key.repo} #${key.number}`,
      login: v.login,
      body: previewBody({ preview, logs, now: now(), githubWeb: opts.settings.github.web }),
    });
  }

  /**
   * The door's routes, in order: the first whose `match` accepts the path answers. Add a route here (e.g. a sleeping
   * preview's wake endpoint): a path test, the methods it takes, and its handler.
   */
  const routes: PageRoute[] = [
    // Any method: Envoy sends the visitor's own.
    {
      match: (p) => p === "/auth/check" || p.startsWith("/auth/check/"),
      methods: "any",
      handle: (req, res) => authCheck(auth, req, res),
    },
    { match: (p) => p === "/previews" || p === "/previews/", handle: list },
    { match: (p) => p === "/auth/signin", handle: (req, res) => signIn(auth, req, res) },
    { match: (p) => p === "/auth/callback", handle: (req, res) => callback(auth, req, res) },
    { match: (p) => p === "/auth/signout", handle: async (req, res) => signOut(auth, req, res) },
    {
      match: (p) => PREVIEW_PATH.test(p),
      handle: (req, res, path) => {
        const m = PREVIEW_PATH.exec(path)!;
        return one(req, res, { owner: m[1]!, repo: m[2]!, number: Number(m[3]) }, Boolean(m[4]));
      },
    },
  ];

  return async (req, res) => {
    const path = requestUrl(req).pathname;
    const route = routes.find((r) => r.match(path));
    if (!route) {
      // Under /previews/ or /auth/ but no page: ours to refuse, not another door's.
      if (!(path.startsWith("/previews/") || path.startsWith("/auth/"))) return false;
      res.writeHead(404, { ...securityHeaders(), "content-type": "text/plain" }).end("not found");
      return true;
    }
    if (route.methods !== "any" && req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed");
      return true;
    }
    await route.handle(req, res, path);
    return true;
  };
}

interface PageRoute {
  match(path: string): boolean;
  /** `any`: every method (default: GET and HEAD only; the page only reads). */
  methods?: "any";
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}
