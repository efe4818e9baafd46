/**
 * /auth/signin, /auth/callback and /auth/signout: GitHub sign-in for the page and for preview hosts. The visitor comes
 * back to where they were going (`rd`): a page of the bot, or a preview URL — only a host the bot serves a preview on,
 * never an arbitrary site (no open redirect). A preview host gets a 60-second grant for that host only, after the
 * visitor's read access to its repository was checked (see docs/preview-access.md).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { pkcePair } from "../../services/github/user-auth.js";
import { html, sendPage } from "./html.js";
import { requestUrl, type PageAuth } from "./page-auth.js";
import type { PreviewHost } from "../../services/shared/page-data.js";
import { GRANT_PARAM, type SignedIn } from "./sessions.js";

/** Where a sign-in returns to: a path on the bot, or a preview URL with the preview it belongs to. */
export type Return = { kind: "bot"; path: string } | { kind: "preview"; url: URL; target: PreviewHost };

const HOME: Return = { kind: "bot", path: "/previews" };

/** `rd` as a safe place to return to; anything else is the list. */
async function safeReturn(auth: PageAuth, rd: string | null): Promise<Return> {
  if (!rd) return HOME;
  let url: URL;
  try {
    url = new URL(rd, auth.o.settings.botUrl);
  } catch {
    return HOME;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return HOME;
  if (url.origin === auth.o.settings.botUrl) {
    const path = `${url.pathname}${url.search}`;
    return path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/auth/") ? { kind: "bot", path } : HOME;
  }
  url.searchParams.delete(GRANT_PARAM);
  const host = url.hostname.toLowerCase();
  const target = (await auth.o.previewForHost(host)) ?? (await auth.o.previewForHost(host, { fresh: true }));
  return target ? { kind: "preview", url, target } : HOME;
}

/** Send the browser to GitHub, binding the sign-in to it with the state cookie. */
function toGitHub(auth: PageAuth, res: ServerResponse, back: Return, cookies: string[] = []): void {
  const { verifier, challenge } = pkcePair();
  const rd = back.kind === "bot" ? back.path : back.url.toString();
  const { state, cookie } = auth.sessions.startSignIn({ verifier, rd });
  auth.redirect(res, auth.github.authorizeUrl({ state, redirectUri: auth.callbackUrl, codeChallenge: challenge }), [
    ...cookies,
    cookie,
  ]);
}

/** Take a signed-in visitor where they were going. */
async function continueTo(
  auth: PageAuth,
  res: ServerResponse,
  v: SignedIn,
  back: Return,
  cookies: string[] = [],
): Promise<void> {
  if (back.kind === "bot") return auth.redirect(res, back.path, cookies);
  const t = back.target;
  if (t.access === "public") return auth.redirect(res, back.url.toString(), cookies);
  const access = await auth.readAccess(v, t.owner, t.repo);
  if (access === "unauthorized") return toGitHub(auth, res, back, [...cookies, auth.sessions.clearSession()]);
  if (access === "error")
    return auth.problem(
      res,
      503,
      "GitHub did not answer",
      "Could not check your access to this preview. Try again in a moment.",
      {
        "set-cookie": cookies,
      },
    );
  if (access === "none") {
    auth.o.logger.info({ login: v.login, repository: `${t.owner}/${t.repo}` }, "preview refused: not a reader");
    return sendPage(
      res,
      403,
      {
        title: "Not for you",
        login: v.login,
        body: html`<h1>You can't open this preview</h1>
          <p>
            It belongs to <strong>${t.owner}/${t.repo}</strong>, and GitHub says <strong>${v.login}</strong> cannot read
            that repository (through this GitHub App).
          </p>
          <p class="muted">Just given access? It takes effect within a few minutes.</p>
          <p><a href="/previews">Previews you can read</a></p>`,
      },
      { "set-cookie": cookies },
    );
  }
  const to = new URL(back.url);
  to.searchParams.set(GRANT_PARAM, auth.sessions.grant(v, to.hostname));
  auth.redirect(res, to.toString(), cookies);
}

export async function signIn(auth: PageAuth, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const back = await safeReturn(auth, requestUrl(req).searchParams.get("rd"));
  const v = auth.sessions.visitor(req);
  if (!v) return toGitHub(auth, res, back);
  return continueTo(auth, res, v, back);
}

export async function callback(auth: PageAuth, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const q = requestUrl(req).searchParams;
  const started = auth.sessions.finishSignIn(req, q.get("state") ?? "");
  const clear = auth.sessions.clearSignIn();
  if (!started)
    return auth.problem(
      res,
      400,
      "Sign-in expired",
      "This sign-in was started too long ago or in another browser. Start again.",
      { "set-cookie": [clear] },
    );
  if (q.get("error"))
    return auth.problem(res, 403, "Sign-in cancelled", "GitHub did not sign you in.", { "set-cookie": [clear] });
  const code = q.get("code") ?? "";
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(code))
    return auth.problem(res, 400, "Sign-in failed", "GitHub's answer had no valid code. Start again.", {
      "set-cookie": [clear],
    });
  let signedIn: SignedIn;
  let cookie: string;
  try {
    const token = await auth.github.exchange({ code, redirectUri: auth.callbackUrl, codeVerifier: started.verifier });
    const user = await auth.github.user(token.token);
    ({ cookie, signedIn } = auth.sessions.sessionCookie({ ...user, token: token.token }, token.expiresAt));
    auth.o.logger.info({ login: user.login }, "signed in with GitHub");
  } catch (err) {
    auth.o.logger.warn({ err }, "GitHub sign-in failed");
    return auth.problem(res, 502, "Sign-in failed", "GitHub did not complete the sign-in. Start again.", {
      "set-cookie": [clear],
    });
  }
  return continueTo(auth, res, signedIn, await safeReturn(auth, started.rd), [cookie, clear]);
}

export function signOut(auth: PageAuth, req: IncomingMessage, res: ServerResponse): void {
  const v = auth.sessions.visitor(req);
  if (v) auth.access.forget(v.login);
  sendPage(
    res,
    200,
    {
      title: "Signed out",
      body: html`<h1>Signed out</h1>
        <p>You are signed out of preview-bot. Previews you opened keep you signed in there until that sign-in ends.</p>
        <p><a href="/auth/signin">Sign in again</a></p>`,
    },
    { "set-cookie": [auth.sessions.clearSession()] },
  );
}
