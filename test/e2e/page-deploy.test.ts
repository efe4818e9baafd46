/**
 * Issue #25 wired, end to end through the bot as production builds it (startServer → buildApp): a private repository's
 * pull request deploys with the sign-in in front of its preview (ingress-nginx's auth annotations on the Ingress), the
 * namespace records who may open it, on which host, and the deploy's bypass nonce, the health checks go through the
 * bot's own /auth/check with that deploy's token (played here as ingress-nginx does: the auth subrequest first, the app
 * only on 2xx), the E2E workflow gets the token in the input the repository names, the sticky comment links the
 * preview's page, and the page shows a reader the last deploy and the pod's logs, redacted. A new deploy rotates the
 * token. The token never reaches a log, a comment, a check run or a page. (page-off.test.ts: with the page off, such a
 * preview is refused, never left public.)
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, type Server } from "node:http";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
} from "../../src/services/shared/labels.js";
import { decodeLastRun } from "../../src/services/shared/last-run.js";
import { pull, prEvent, webApp, INSTALLATION, OWNER, REPO } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { startPageBot, type PageBot } from "../support/page-bot.js";
import { browserFor, signIn } from "../support/page-harness.js";
import { CANARY } from "../support/page-sample.js";
import { registerSecret } from "../../src/logger.js";
import { until } from "../support/wait.js";
import { INGRESS_KIND } from "./repos-support.js";

const SHA1 = "a".repeat(40);
const SHA2 = "b".repeat(40);
const NS = "hello-pr-2";
const HOST = `${NS}.previews.localhost`;

const CONFIG = `
manifests:
  path: deploy
names:
  namespace: "hello-pr-{number}"
route:
  host: "{name}.previews.localhost"
  kind: ingress
  expose: { service: web, port: 80 }
health:
  timeout: 10m
  checks:
    - path: /healthz
e2e:
  workflow: e2e.yml
  bypassInput: preview_token
`;
const FILES = { "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1", service: true }) };

/** The preview's app: what is behind the gateway. */
let app: Server;
let appPort = 0;
const appSaw: Array<{ path: string; cookie: string }> = [];
/** What the bot's /auth/check answered to the gateway, in order. */
const checks: string[] = [];

async function startApp(): Promise<void> {
  app = createServer((req, res) => {
    appSaw.push({ path: req.url ?? "", cookie: String(req.headers.cookie ?? "") });
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  appPort = (app.address() as { port: number }).port;
}

/**
 * ingress-nginx in front of preview hosts, as it serves an Ingress with `auth-url`: the auth subrequest to the URL in
 * the annotation (the bot's /auth/check, with X-Original-URL and the visitor's headers), then the app on 2xx, the
 * sign-in on 401, the refusal otherwise. The Ingress's annotation is read from the cluster, so an unprotected
 * Ingress would go straight to the app (and the test would see no check).
 */
function gateway(bot: () => PageBot): typeof fetch {
  return async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (!url.hostname.endsWith(".previews.localhost")) return fetch(input, init);
    const ingress = bot()
      .harness.fake.list("networking.k8s.io/v1", "Ingress")
      .find((i) => (i.spec as any)?.rules?.some((r: any) => r.host === url.hostname)) as any;
    const authUrl = ingress?.metadata.annotations?.["nginx.ingress.kubernetes.io/auth-url"] as string | undefined;
    if (authUrl) {
      const headers = new Headers(init?.headers);
      headers.set("x-original-url", url.toString());
      headers.set("x-original-method", "GET");
      const check = await fetch(authUrl.replace("//bot.localhost:", "//127.0.0.1:"), { headers, redirect: "manual" });
      checks.push(`${check.status} ${await check.text()}`);
      if (check.status === 401)
        return new Response(null, { status: 302, headers: { location: `${bot().botUrl}/auth/signin` } });
      if (check.status !== 200) return new Response("refused", { status: check.status });
    }
    return fetch(`http://127.0.0.1:${appPort}${url.pathname}${url.search}`, { ...init, redirect: "manual" });
  };
}

describe("a private repository's preview behind the GitHub sign-in, through the whole bot", () => {
  let h: PageBot;
  let gh: ReturnType<typeof fakeGitHub>;
  const logLines: string[] = [];

  beforeAll(async () => {
    registerSecret(CANARY);
    await startApp();
    h = await startPageBot({
      harness: { fetchImpl: gateway(() => h), fake: { kinds: [INGRESS_KIND] }, logLines },
    });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
    gh.state.private = true;
    gh.state.tarballs.set(SHA1, await h.harness.tarball(SHA1, FILES));
    gh.state.tarballs.set(SHA2, await h.harness.tarball(SHA2, FILES));
    gh.state.pulls.set(2, pull({ sha: SHA1 }));
    h.github.repo(`${OWNER}/${REPO}`, true, ["rita"]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
  }, 60_000);

  const namespace = () => h.harness.fake.get("v1", "Namespace", undefined, NS)!;
  const token = () => h.bypassToken(NS, namespace().metadata.annotations![ACCESS_NONCE_ANNOTATION]!);
  /** The E2E workflow's dispatches: the one place a token is sent (the input the repository named). */
  const dispatches = () => gh.state.writes.filter((w) => /\/actions\/workflows\/e2e\.yml\/dispatches$/.test(w.path));
  /** Everything else the bot wrote to GitHub, and its log, where a token must never be. */
  const everythingShown = () =>
    [
      JSON.stringify(gh.state.writes.filter((w) => !dispatches().includes(w))),
      JSON.stringify(gh.state.comments),
      logLines.join("\n"),
    ].join("\n");

  it("protects the Ingress, records who may open it, and passes its health checks with the deploy's bypass token", async () => {
    expect(await h.harness.send("pull_request", prEvent("opened", gh.state.pulls.get(2)!))).toBe(200);
    const run = gh.state.checkRuns.filter((r) => r.head_sha === SHA1 && r.name === "preview").at(-1)!;
    expect(run.conclusion).toBe("success");

    const ingress = h.harness.fake.get("networking.k8s.io/v1", "Ingress", NS, NS) as any;
    expect(ingress.metadata.annotations).toMatchObject({
      "nginx.ingress.kubernetes.io/auth-url": `${h.botUrl}/auth/check`,
      "nginx.ingress.kubernetes.io/auth-signin": `${h.botUrl}/auth/signin`,
    });
    expect(namespace().metadata.annotations).toMatchObject({
      [ACCESS_ANNOTATION]: "github",
      [ACCESS_HOSTS_ANNOTATION]: HOST,
      [ACCESS_NONCE_ANNOTATION]: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/),
    });
    // The health check went through the bot's check with the token, and only then to the app.
    expect(checks).toContain("200 bypass");
    expect(appSaw.map((r) => r.path)).toContain("/healthz");
    // The E2E workflow got this deploy's token in the input the repository named, besides its usual inputs.
    expect(dispatches().map((d) => d.body)).toEqual([
      {
        ref: gh.state.pulls.get(2)!.branch,
        inputs: { preview_url: expect.stringContaining(HOST), preview_token: token() },
      },
    ]);
    // The last run, kept on the namespace for the page.
    const last = decodeLastRun(namespace().metadata.annotations!["preview-bot.dev/last-run"]);
    expect(last).toMatchObject({ kind: "deploy", state: "success" });
    expect(last!.steps.map((s) => s.name)).toEqual(expect.arrayContaining(["Render manifests", "Health checks"]));
    expect(last!.steps.find((s) => s.name === "Render manifests")!.detail).toContain("access: github");

    const sticky = gh.sticky(2)[0]!.body;
    expect(sticky).toContain(`[Last deploy and logs](${h.botUrl}/previews/${OWNER}/${REPO}/2)`);
    expect(everythingShown()).not.toContain(token());
  });

  it("sends a visitor without the token to sign in, and the token opens only this preview", async () => {
    checks.length = 0;
    const anonymous = await gateway(() => h)(`http://${HOST}/`, {});
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toBe(`${h.botUrl}/auth/signin`);
    const wrong = await gateway(() => h)(`http://${HOST}/`, { headers: { "x-preview-bypass": `${token()}x` } });
    expect(wrong.status).toBe(302);
    expect(checks).toEqual(["401 sign in", "401 sign in"]);
  });

  it("shows a reader the preview's last deploy and its pod's logs, redacted; refuses a non-reader", async () => {
    const pod = h.harness.fake.list("v1", "Pod", NS)[0]!;
    // The app logs what it was sent: the deploy's token and a database password must not reach the page.
    h.harness.fake.setPodLog(
      NS,
      pod.metadata.name,
      "web",
      `listening on :8080\nGET /healthz x-preview-bypass=${token()}\nDATABASE_URL=postgres://app:${CANARY}@db/app\n`,
    );
    const reader = browserFor(h);
    const list = await signIn(reader, h, "rita", "/previews");
    expect(list.status).toBe(200);
    expect(list.body).toContain(`${OWNER}/${REPO} #2`);
    // The page reads the cluster again within a second: wait for it to have the finished deploy.
    const page = await until("the page to show the last deploy", async () => {
      const r = await reader.fetch(`${h.botUrl}/previews/${OWNER}/${REPO}/2`);
      return r.body.includes("Render manifests") ? r : undefined;
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain("listening on :8080");
    expect(page.body).toContain("[REDACTED]");
    const logs = await reader.fetch(`${h.botUrl}/previews/${OWNER}/${REPO}/2/logs`);
    expect(logs.body).toContain("listening on :8080");
    for (const body of [list.body, page.body, logs.body]) {
      expect(body).not.toContain(token());
      expect(body).not.toContain(CANARY);
    }

    const other = browserFor(h);
    await signIn(other, h, "nate", "/previews");
    expect((await other.fetch(`${h.botUrl}/previews/${OWNER}/${REPO}/2`)).status).toBe(403);
    expect((await other.fetch(`${h.botUrl}/previews`)).body).not.toContain(`${OWNER}/${REPO} #2`);
  });

  it("rotates the token with every deploy: the new one passes the health checks, the old one no longer opens it", async () => {
    const old = token();
    gh.state.pulls.set(2, { ...gh.state.pulls.get(2)!, sha: SHA2 });
    checks.length = 0;
    await h.harness.send("pull_request", prEvent("synchronize", gh.state.pulls.get(2)!));
    expect(gh.state.checkRuns.filter((r) => r.head_sha === SHA2 && r.name === "preview").at(-1)!.conclusion).toBe(
      "success",
    );
    expect(token()).not.toBe(old);
    expect(checks).toContain("200 bypass");
    expect((dispatches().at(-1)!.body as { inputs: Record<string, string> }).inputs.preview_token).toBe(token());
    checks.length = 0;
    const stale = await gateway(() => h)(`http://${HOST}/`, { headers: { "x-preview-bypass": old } });
    expect(stale.status).toBe(302);
    expect(everythingShown()).not.toContain(token());
    expect(everythingShown()).not.toContain(old);
  });
});
