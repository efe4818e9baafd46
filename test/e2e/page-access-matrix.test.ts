/**
 * The authorization matrix of issue #25, every cell asserted, against the whole bot as production builds it
 * (startServer → buildApp, the page's settings in its environment, its previews read from the cluster's namespaces as
 * the deploy writes them, their pods' logs from the API server, GitHub's answers from the loopback GitHub): reader, non-reader and anonymous visitors × a private
 * repository (access: github), a public repository with the default `access: public`, and a public repository that
 * asks for sign-in (`access: github`) × the preview URL (through /auth/check, as ingress-nginx calls it and as Envoy
 * does), the list, the preview's page and its logs.
 *
 * Decisions the table encodes (docs/preview-access.md): the page needs sign-in for every repository, public ones
 * included; a signed-in visitor reads a public repository whoever they are (GitHub says so), so "non-reader" only
 * bites on the private one; an `access: public` preview URL passes without any identity.
 *
 * The gateways are played by two small functions here, following what each does: ingress-nginx's auth_request
 * (subrequest with X-Original-URL and the visitor's cookies for the preview host; 2xx passes and its Set-Cookie
 * reaches the browser; 401 goes to auth-signin with rd; 403 is final) and Envoy's ext_authz (the visitor's Host and
 * path under /auth/check; a denial goes back to the browser as the bot sent it).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { registerSecret } from "../../src/logger.js";
import type { PagePreview } from "../../src/services/shared/page-data.js";
import { startPageBot, type PageBot } from "../support/page-bot.js";
import { seedPreview, type SeededPreview } from "../support/page-cluster.js";
import { browserFor, signIn, type Browser } from "../support/page-harness.js";
import { CANARY, sampleLogs, samplePreviews } from "../support/page-sample.js";

type Repo = "private, access: github" | "public, access: public" | "public, access: github";
type Who = "reader" | "non-reader" | "anonymous";
type Surface = "preview URL (ingress-nginx)" | "preview URL (Envoy)" | "list" | "preview page" | "logs";
/** `app`: reached the preview; `shown`: the page shows it; `hidden`: the list leaves it out; `refused`: 403; `sign-in`: sent to GitHub. */
type Outcome = "app" | "shown" | "hidden" | "refused" | "sign-in";

const ANY_SIGNED_IN = {
  "preview URL (ingress-nginx)": "app",
  "preview URL (Envoy)": "app",
  list: "shown",
  "preview page": "shown",
  logs: "shown",
} as const;
const EXPECTED: Record<Repo, Record<Who, Record<Surface, Outcome>>> = {
  "private, access: github": {
    reader: ANY_SIGNED_IN,
    "non-reader": {
      "preview URL (ingress-nginx)": "refused",
      "preview URL (Envoy)": "refused",
      list: "hidden",
      "preview page": "refused",
      logs: "refused",
    },
    anonymous: {
      "preview URL (ingress-nginx)": "sign-in",
      "preview URL (Envoy)": "sign-in",
      list: "sign-in",
      "preview page": "sign-in",
      logs: "sign-in",
    },
  },
  "public, access: public": {
    reader: ANY_SIGNED_IN,
    "non-reader": ANY_SIGNED_IN,
    anonymous: {
      "preview URL (ingress-nginx)": "app",
      "preview URL (Envoy)": "app",
      list: "sign-in",
      "preview page": "sign-in",
      logs: "sign-in",
    },
  },
  "public, access: github": {
    reader: ANY_SIGNED_IN,
    "non-reader": ANY_SIGNED_IN,
    anonymous: {
      "preview URL (ingress-nginx)": "sign-in",
      "preview URL (Envoy)": "sign-in",
      list: "sign-in",
      "preview page": "sign-in",
      logs: "sign-in",
    },
  },
};

const REPOS: Record<
  Repo,
  { owner: string; repo: string; number: number; private: boolean; access: "public" | "github" }
> = {
  "private, access: github": { owner: "acme", repo: "web", number: 42, private: true, access: "github" },
  "public, access: public": { owner: "globex", repo: "shop", number: 7, private: false, access: "public" },
  "public, access: github": { owner: "globex", repo: "docs", number: 3, private: false, access: "github" },
};

let h: PageBot;
const seeded = new Map<Repo, SeededPreview>();
const browsers = new Map<Who, Browser>();
const hostOf = (r: Repo) => `${REPOS[r].repo}-pr-${REPOS[r].number}.previews.localhost`;
const previewUrl = (r: Repo) => `http://${hostOf(r)}:${h.port}/dashboard?tab=1`;

beforeAll(async () => {
  registerSecret(CANARY);
  h = await startPageBot();
  const template = samplePreviews(Date.now(), 1)[0]!;
  for (const [name, r] of Object.entries(REPOS) as Array<[Repo, (typeof REPOS)[Repo]]>) {
    h.github.repo(`${r.owner}/${r.repo}`, r.private, ["rita"]);
    const p: PagePreview = {
      ...template,
      key: `${r.owner}/${r.repo}#${r.number}`,
      owner: r.owner,
      repo: r.repo,
      number: r.number,
      namespace: `${r.repo}-pr-${r.number}`,
      access: r.access,
      url: previewUrl(name),
      title: `${name} preview`,
    };
    seeded.set(name, seedPreview(h.harness.fake, p, sampleLogs(p)));
  }
  for (const who of ["reader", "non-reader", "anonymous"] as const) browsers.set(who, browserFor(h));
  await signIn(browsers.get("reader")!, h, "rita");
  await signIn(browsers.get("non-reader")!, h, "nate");
});

afterAll(async () => {
  await h?.close();
}, 60_000);

const isPreviewHost = (u: URL) => u.hostname.endsWith(".previews.localhost");
const isGitHub = (u: URL) => u.host === new URL(h.github.url).host;

/** After /auth/signin: on GitHub (anonymous), refused, or back at the preview (with a grant). */
async function throughSignIn(b: Browser, url: string): Promise<{ outcome: Outcome } | { next: string }> {
  const r = await b.navigate(
    `${h.botUrl}/auth/signin?rd=${encodeURIComponent(url)}`,
    (u) => isPreviewHost(u) || isGitHub(u),
  );
  if (isGitHub(new URL(r.url))) return { outcome: "sign-in" };
  if (r.status === 403) return { outcome: "refused" };
  if (isPreviewHost(new URL(r.url))) return { next: r.url };
  throw new Error(`sign-in for ${url} ended at ${r.url} with ${r.status}`);
}

/** ingress-nginx: auth_request to /auth/check with X-Original-URL and the preview host's cookies. */
async function viaNginx(b: Browser, start: string): Promise<Outcome> {
  let url = start;
  for (let hop = 0; hop < 4; hop++) {
    const host = new URL(url).hostname;
    const check = await b.fetch(`${h.botUrl}/auth/check`, {
      jar: false,
      headers: {
        "x-original-url": url,
        "x-original-method": "GET",
        "x-sent-from": "nginx-ingress-controller",
        cookie: b.cookieHeader(host),
      },
    });
    if (check.status === 200) {
      b.store(host, check.setCookies); // add_header Set-Cookie $auth_cookie on the preview's own answer
      return "app";
    }
    if (check.status === 403) return "refused";
    expect(check.status).toBe(401);
    const after = await throughSignIn(b, url);
    if ("outcome" in after) return after.outcome;
    url = after.next;
  }
  throw new Error(`no decision for ${start}`);
}

/** Envoy ext_authz: the visitor's Host and path under /auth/check; 302s go to the browser. */
async function viaEnvoy(b: Browser, start: string): Promise<Outcome> {
  let url = start;
  for (let hop = 0; hop < 4; hop++) {
    const u = new URL(url);
    const check = await b.fetch(`http://${u.host}/auth/check${u.pathname}${u.search}`, {
      headers: { "x-forwarded-proto": "http" },
    });
    if (check.status === 200) return "app";
    if (check.status === 403) return "refused";
    expect(check.status).toBe(302);
    const to = new URL(String(check.headers.location));
    if (isPreviewHost(to)) {
      url = to.toString();
      continue;
    }
    expect(`${to.origin}${to.pathname}`).toBe(`${h.botUrl}/auth/signin`);
    const after = await throughSignIn(b, to.searchParams.get("rd")!);
    if ("outcome" in after) return after.outcome;
    url = after.next;
  }
  throw new Error(`no decision for ${start}`);
}

async function pageOutcome(b: Browser, path: string, mark: string): Promise<Outcome> {
  const r = await b.fetch(`${h.botUrl}${path}`);
  if (r.status === 302) {
    const to = new URL(String(r.headers.location), h.botUrl);
    expect(to.pathname).toBe("/auth/signin");
    const gh = await b.fetch(to.toString());
    expect(isGitHub(new URL(String(gh.headers.location)))).toBe(true);
    return "sign-in";
  }
  if (r.status === 403) return "refused";
  expect(r.status).toBe(200);
  expect(r.body).not.toContain(CANARY);
  return r.body.includes(mark) ? "shown" : "hidden";
}

async function outcome(who: Who, repo: Repo, surface: Surface): Promise<Outcome> {
  const b = who === "anonymous" ? browserFor(h) : browsers.get(who)!;
  const r = REPOS[repo];
  const path = `/previews/${r.owner}/${r.repo}/${r.number}`;
  switch (surface) {
    case "preview URL (ingress-nginx)":
      return viaNginx(b, previewUrl(repo));
    case "preview URL (Envoy)":
      return viaEnvoy(b, previewUrl(repo));
    case "list":
      return pageOutcome(b, "/previews", `${repo} preview`);
    case "preview page":
      return pageOutcome(b, path, "Recent logs");
    case "logs":
      return pageOutcome(b, `${path}/logs`, "==> web-");
  }
}

const CELLS = (Object.keys(EXPECTED) as Repo[]).flatMap((repo) =>
  (Object.keys(EXPECTED[repo]) as Who[]).flatMap((who) =>
    (Object.keys(EXPECTED[repo][who]) as Surface[]).map(
      (surface) => [repo, who, surface, EXPECTED[repo][who][surface]] as const,
    ),
  ),
);

describe("who may see what (issue #25's authorization matrix)", () => {
  it("has every cell: 3 repositories × 3 visitors × 5 surfaces", () => {
    expect(CELLS).toHaveLength(45);
  });

  it.each(CELLS)("%s, %s, %s: %s", async (repo, who, surface, expected) => {
    expect(await outcome(who, repo, surface)).toBe(expected);
  });
});

describe("bypass tokens of the wired bot", () => {
  const check = (repo: Repo, token: string) =>
    browserFor(h).fetch(`${h.botUrl}/auth/check`, {
      jar: false,
      headers: { "x-original-url": previewUrl(repo), "x-preview-bypass": token },
    });

  it("let a deploy's own token through to its preview, and nowhere else", async () => {
    const web = seeded.get("private, access: github")!;
    const docs = seeded.get("public, access: github")!;
    const token = h.bypassToken(web.namespace, web.nonce!);
    expect((await check("private, access: github", token)).status).toBe(200);
    expect((await check("public, access: github", token)).status).toBe(401);
    expect((await check("private, access: github", token.slice(0, -1))).status).toBe(401);
    // Another deploy (another nonce) of the same preview makes another token.
    expect(h.bypassToken(web.namespace, docs.nonce!)).not.toBe(token);
  });
});
