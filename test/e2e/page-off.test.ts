/**
 * A private repository's preview while the bot's GitHub sign-in (the preview page) is not configured: `access` defaults
 * to `github` for a private repository, so the render refuses it with the reason and nothing is applied; it is never
 * deployed public. A repository that says `access: public` deploys as before. Through the whole bot (buildApp).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { startHarness, pull, prEvent, webApp, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { INGRESS_KIND } from "./repos-support.js";

const CONFIG = `
manifests:
  path: deploy
names:
  namespace: "hello-pr-{number}"
route:
  host: "{name}.previews.localhost"
  kind: ingress
  expose: { service: web, port: 80 }
`;
const FILES = { "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1", service: true }) };

describe("a private repository's preview while the bot's sign-in is off", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ fake: { kinds: [INGRESS_KIND] } });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  }, 60_000);

  async function open(config: string, number: number, sha: string) {
    nock.cleanAll();
    const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
    gh.state.private = true;
    gh.state.tarballs.set(sha, await h.tarball(sha, FILES));
    gh.state.pulls.set(number, pull({ number, sha }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!));
    return gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1)!;
  }

  it("fails the render with the reason and applies nothing, rather than leave it public", async () => {
    const run = await open(CONFIG, 3, "c".repeat(40));
    expect(run.conclusion).toBe("failure");
    expect(JSON.stringify(run.output)).toMatch(
      /access: github: the bot's GitHub sign-in \(the preview page\) is off: not configured \(set PREVIEW_BOT_URL/,
    );
    expect(h.fake.list("networking.k8s.io/v1", "Ingress")).toEqual([]);
    expect(h.fake.list("apps/v1", "Deployment")).toEqual([]);
  });

  it("deploys it when the repository says access: public", async () => {
    const run = await open(`${CONFIG}access: public\n`, 4, "d".repeat(40));
    expect(run.conclusion).toBe("success");
    const ingress = h.fake.get("networking.k8s.io/v1", "Ingress", "hello-pr-4", "hello-pr-4") as any;
    expect(Object.keys(ingress.metadata.annotations ?? {}).filter((k) => k.includes("auth-"))).toEqual([]);
  });
});
