/**
 * The sign-in and /auth/check in detail: grants are for one host and one minute, bypass tokens are per preview,
 * access taken away on GitHub stops working once the brief cache expires, `rd` never leads off the bot's hosts,
 * cookies are HttpOnly, SameSite=Lax and Secure, and the pages escape what pull requests write.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { PagePreview } from "../../../src/services/shared/page-data.js";
import { CONTENT_SECURITY_POLICY } from "../../../src/handlers/page/html.js";
import { MemoryPageData, samplePreviews } from "../../support/page-sample.js";
import { browserFor, signIn, startPageHarness, type PageHarness } from "../../support/page-harness.js";

let h: PageHarness;
/** Moves forward only: what was cached at a later time must not outlive a rewind. */
let clock = Date.now();
const data = new MemoryPageData([]);
const BYPASS = "bypass-token-for-web-42-0f9e8d7c6b5a";
const host = (repo: string, n: number) => `${repo}-pr-${n}.previews.localhost`;

beforeAll(async () => {
  h = await startPageHarness({
    data,
    now: () => clock,
    accessTtlSeconds: 120,
    previewForHost: (name) => {
      const p = data.list.find((x) => x.url && new URL(x.url).hostname === name);
      if (!p) return undefined;
      return {
        owner: p.owner,
        repo: p.repo,
        number: p.number,
        access: "github",
        ...(p.number === 42 ? { bypassToken: BYPASS } : {}),
      };
    },
  });
  const t = samplePreviews(clock, 1)[0]!;
  const add = (owner: string, repo: string, number: number, extra: Partial<PagePreview> = {}) =>
    data.list.push({
      ...t,
      key: `${owner}/${repo}#${number}`,
      owner,
      repo,
      number,
      url: `http://${host(repo, number)}:${h.port}/`,
      ...extra,
    });
  add("acme", "web", 42);
  add("acme", "api", 9);
  add("acme", "web", 43, {
    title: `<script>alert("pwned")</script> & "quotes"`,
    url: "javascript:alert(1)",
    branch: "feat/<img src=x onerror=alert(1)>",
    reason: "<b>bold</b>",
  });
  h.github.repo("acme/web", true, ["rita"]);
  h.github.repo("acme/api", true, ["rita"]);
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => {
  h.github.grant("rita", "acme/web");
  h.github.grant("rita", "acme/api");
});

async function grantFor(b: ReturnType<typeof browserFor>, url: string): Promise<URL> {
  const r = await b.navigate(`${h.botUrl}/auth/signin?rd=${encodeURIComponent(url)}`, (u) =>
    u.hostname.endsWith(".previews.localhost"),
  );
  expect(r.status).toBe(302);
  return new URL(r.url);
}

const nginxCheck = (b: ReturnType<typeof browserFor>, url: string, headers: Record<string, string> = {}) =>
  b.fetch(`${h.botUrl}/auth/check`, {
    jar: false,
    headers: { "x-original-url": url, cookie: b.cookieHeader(new URL(url).hostname), ...headers },
  });

describe("grants and the preview host's cookie", () => {
  it("turns a grant into the host's cookie: 200 with Set-Cookie for ingress-nginx, a 302 to the clean URL for Envoy", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    const url = `http://${host("web", 42)}:${h.port}/orders?id=7`;
    const granted = await grantFor(b, url);
    expect(granted.searchParams.get("preview-bot-grant")).toBeTruthy();
    expect(granted.searchParams.get("id")).toBe("7");

    const nginx = await nginxCheck(b, granted.toString());
    expect(nginx.status).toBe(200);
    expect(nginx.setCookies).toHaveLength(1);
    expect(nginx.setCookies[0]).toMatch(
      /^__Host-preview-bot-access=[A-Za-z0-9_-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure$/,
    );

    const envoy = await b.fetch(`http://${granted.host}/auth/check${granted.pathname}${granted.search}`, {
      headers: { "x-forwarded-proto": "http" },
    });
    expect(envoy.status).toBe(302);
    expect(envoy.headers.location).toBe(url);
    const after = await b.fetch(`http://${granted.host}/auth/check/orders?id=7`, {
      headers: { "x-forwarded-proto": "http" },
    });
    expect(after.status).toBe(200);
  });

  it("never opens a grant or a cookie made for one preview host at another", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    const granted = await grantFor(b, `http://${host("web", 42)}:${h.port}/`);
    const other = new URL(granted);
    other.hostname = host("api", 9);
    expect((await nginxCheck(b, other.toString())).status).toBe(401);

    // The access cookie of web#42, presented at api#9 (a hostile preview replaying what it received).
    const ok = await nginxCheck(b, granted.toString());
    const cookie = ok.setCookies[0]!.split(";")[0]!;
    const replay = await b.fetch(`${h.botUrl}/auth/check`, {
      jar: false,
      headers: { "x-original-url": `http://${host("api", 9)}:${h.port}/`, cookie },
    });
    expect(replay.status).toBe(401);
    // … nor is it a session on the bot's own host.
    const asSession = await b.fetch(`${h.botUrl}/previews`, {
      jar: false,
      headers: { cookie: cookie.replace("preview-bot-access", "preview-bot-session") },
    });
    expect(asSession.status).toBe(302);
  });

  it("refuses a grant after its minute", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    const granted = await grantFor(b, `http://${host("web", 42)}:${h.port}/`);
    clock += 61_000;
    expect((await nginxCheck(b, granted.toString())).status).toBe(401);
  });
});

describe("access taken away", () => {
  it("stops a signed-in reader within the cache's two minutes, and asks GitHub once per repository meanwhile", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    const url = `http://${host("api", 9)}:${h.port}/`;
    const granted = await grantFor(b, url);
    b.store(host("api", 9), (await nginxCheck(b, granted.toString())).setCookies);
    const asked = h.github.count("GET /api/v3/repos/acme/api");
    for (let i = 0; i < 5; i++) expect((await nginxCheck(b, url)).status).toBe(200);
    expect(h.github.count("GET /api/v3/repos/acme/api")).toBe(asked);

    h.github.revoke("rita", "acme/api");
    expect((await nginxCheck(b, url)).status).toBe(200); // still cached
    clock += 121_000;
    expect((await nginxCheck(b, url)).status).toBe(403);
    expect((await b.fetch(`${h.botUrl}/previews/acme/api/9`)).status).toBe(403);
  });

  it("sends a visitor whose GitHub authorization was revoked back to sign in", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    const url = `http://${host("web", 42)}:${h.port}/`;
    b.store(host("web", 42), (await nginxCheck(b, (await grantFor(b, url)).toString())).setCookies);
    h.github.revokeTokens("rita");
    clock += 121_000;
    expect((await nginxCheck(b, url)).status).toBe(401);
    const page = await b.fetch(`${h.botUrl}/previews`);
    expect(page.status).toBe(302);
    expect(page.headers.location).toContain("/auth/signin");
  });
});

describe("bypass tokens", () => {
  const url = () => `http://${host("web", 42)}:${h.port}/healthz`;
  it("lets the preview's own token through, in a header or the query, compared in full", async () => {
    const b = browserFor(h);
    expect((await nginxCheck(b, url(), { "x-preview-bypass": BYPASS })).status).toBe(200);
    expect((await nginxCheck(b, `${url()}?preview-bypass=${BYPASS}`)).status).toBe(200);
    expect((await nginxCheck(b, url(), { "x-preview-bypass": BYPASS.slice(0, -1) })).status).toBe(401);
    expect((await nginxCheck(b, url(), { "x-preview-bypass": `${BYPASS}x` })).status).toBe(401);
  });

  it("is worth nothing at another preview", async () => {
    const b = browserFor(h);
    expect((await nginxCheck(b, `http://${host("api", 9)}:${h.port}/`, { "x-preview-bypass": BYPASS })).status).toBe(
      401,
    );
  });
});

describe("the sign-in", () => {
  it("returns only to the bot or a preview host, never to another site", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    for (const rd of ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/auth/signout"]) {
      const r = await b.fetch(`${h.botUrl}/auth/signin?rd=${encodeURIComponent(rd)}`);
      expect([r.status, r.headers.location]).toEqual([302, "/previews"]);
    }
  });

  it("refuses a callback whose state this browser did not start", async () => {
    const mine = browserFor(h);
    const theirs = browserFor(h);
    const exchanges = h.github.count("POST /login/oauth/access_token");
    const toGitHub = await theirs.fetch(`${h.botUrl}/auth/signin`);
    const state = new URL(String(toGitHub.headers.location)).searchParams.get("state")!;
    const r = await mine.fetch(`${h.botUrl}/auth/callback?code=abc&state=${state}`);
    expect(r.status).toBe(400);
    expect(h.github.count("POST /login/oauth/access_token")).toBe(exchanges);
  });

  it("sends PKCE (S256) and state to GitHub's authorize URL of the configured host", async () => {
    const r = await browserFor(h).fetch(`${h.botUrl}/auth/signin`);
    const u = new URL(String(r.headers.location));
    expect(`${u.origin}${u.pathname}`).toBe(`${h.github.url}/login/oauth/authorize`);
    expect(u.searchParams.get("client_id")).toBe(h.github.clientId);
    expect(u.searchParams.get("redirect_uri")).toBe(`${h.botUrl}/auth/callback`);
    expect(u.searchParams.get("code_challenge_method")).toBe("S256");
    expect(u.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(u.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it("sets only HttpOnly, SameSite=Lax, Secure __Host- cookies, none with the token readable", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    expect(b.setCookieLines.length).toBeGreaterThanOrEqual(3);
    for (const line of b.setCookieLines) {
      expect(line).toMatch(/^__Host-preview-bot-(session|state|access)=/);
      expect(line).toContain("; HttpOnly");
      expect(line).toContain("; SameSite=Lax");
      expect(line).toContain("; Secure");
      expect(line).not.toContain("Domain=");
      expect(line).not.toContain("ghu_");
    }
    const token = [...h.github.tokens.keys()].at(-1)!;
    const page = await b.fetch(`${h.botUrl}/previews`);
    expect(page.body).not.toContain(token);
  });
});

describe("the pages", () => {
  it("escape what a pull request wrote and link only http(s) URLs, under a strict CSP", async () => {
    const b = browserFor(h);
    await signIn(b, h, "rita");
    for (const path of ["/previews", "/previews/acme/web/43"]) {
      const r = await b.fetch(`${h.botUrl}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
      expect(r.body).toContain("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;");
      expect(r.body).not.toContain("<script");
      expect(r.body).not.toContain("<img");
      expect(r.body).not.toContain("<b>bold");
      expect(r.body).not.toContain("javascript:");
    }
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+';/);
    // The browser hashes the exact text between the style tags: it must be what the policy names.
    const page = (await b.fetch(`${h.botUrl}/previews`)).body;
    const css = page.slice(page.indexOf("<style>") + 7, page.indexOf("</style>"));
    expect(CONTENT_SECURITY_POLICY).toContain(`'sha256-${createHash("sha256").update(css).digest("base64")}'`);
  });
});

describe("development on http://localhost", () => {
  it("drops Secure (and the __Host- prefix, which requires it) only when told to", async () => {
    const dev = await startPageHarness({
      data: new MemoryPageData([]),
      previewForHost: () => undefined,
      secureCookies: false,
    });
    try {
      const b = browserFor(dev);
      await signIn(b, dev, "rita");
      const session = b.setCookieLines.find((l) => l.startsWith("preview-bot-session="))!;
      expect(session).toMatch(/; HttpOnly; SameSite=Lax$/);
      expect(b.setCookieLines.every((l) => !l.includes("Secure") && !l.startsWith("__Host-"))).toBe(true);
      expect((await b.fetch(`${dev.botUrl}/previews`)).status).toBe(200);
    } finally {
      await dev.close();
    }
  });
});
