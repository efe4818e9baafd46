/**
 * The whole path, as a user's installation sees it: signed webhook deliveries (real payloads from
 * @octokit/webhooks-examples) into the real one-port server → queue → runner → the real @kubernetes/client-node
 * against the fake API server, the real PostgreSQL for the preview database, GitHub's REST API on nock.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createServer, type Server } from "node:http";
import nock from "nock";
import pg from "pg";
import {
  startHarness,
  pull,
  prEvent,
  webApp,
  INSTALLATION,
  OWNER,
  REPO,
  SECRET,
  type Harness,
} from "../support/e2e-bot.js";
import { deliver, fakeGitHub } from "../support/github-fake.js";
import { requireRegistry, type SharedRegistry } from "../support/registry-suite.js";

const SHA1 = "1".repeat(40);
const SHA2 = "2".repeat(40);
const SHA3 = "3".repeat(40);

let h: Harness;
let fake: Harness["fake"];
let bot: Harness["bot"];
let app: Server;
let appUrl: string;
let failHealth = false;
let gh: ReturnType<typeof fakeGitHub>;
/** The image CI pushes for each commit, in the run's real registry (images[] renames ghcr.io's to it). */
let registry: SharedRegistry;
const HELLO = `lib/e2e-${Math.random().toString(36).slice(2, 8)}-hello`;
const digests: Record<string, string> = {};
const hello = (sha: string) => `${registry.host}/${HELLO}@${digests[sha]}`;
const send = (event: string, payload: unknown) => h.send(event, payload);
const tarball = (sha: string, files: Record<string, string>) => h.tarball(sha, files);

function deployment(extra: boolean): Record<string, string> {
  const files: Record<string, string> = {
    "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:latest", service: true, databaseSecret: "hello-db" }),
    "deploy/cron.yaml": `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{ name: job, image: ghcr.io/codertocat/hello:latest }]
`,
  };
  if (extra)
    files["deploy/extra.yaml"] =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  greeting: ${GREETING}\n";
  return files;
}

/**
 * The repository's config. `timeout` (health.timeout) is long by default: a roll-out that should succeed must never
 * fail because a loaded machine is slow. Tests that expect a failure set what makes it deterministic.
 */
function configYaml(baseUrl: string, timeout = "10m"): string {
  return `
manifests:
  path: deploy
names:
  namespace: "hello-pr-{number}"
images:
  - name: ghcr.io/codertocat/hello
    newName: ${registry.host}/${HELLO}
    tag: "{sha}"
route:
  baseUrl: ${baseUrl}
  expose: { service: web, port: 80 }
  parentRefs: [{ name: previews, namespace: gateway-system }]
variables:
  GREETING: "hello from {branch}"
health:
  timeout: ${timeout}
  checks:
    - path: /healthz
links:
  - title: API docs
    path: /docs
database:
  enabled: true
  secret:
    name: hello-db
    keys: { user: USER, password: PASSWORD, url: DATABASE_URL }
`;
}

const NS = "hello-pr-2";
const DEADLINE = 120_000; // each test takes a few seconds on an idle machine

beforeAll(async () => {
  app = createServer((req, res) => {
    const ok = !failHealth && req.url?.endsWith("/healthz");
    res.writeHead(ok ? 200 : 503).end(ok ? "ok" : "unavailable");
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const address = app.address();
  appUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  registry = requireRegistry();
  for (const [i, sha] of [SHA1, SHA2, SHA3].entries())
    digests[sha] = (await registry.push(HELLO, sha, { seed: i + 1 })).digest;
  h = await startHarness();
  fake = h.fake;
  bot = h.bot;
}, DEADLINE);

afterAll(async () => {
  await h?.stop();
  await new Promise<void>((r) => app.close(() => r()));
});

afterEach(() => {
  failHealth = false;
  fake.setWorkloadBehaviour(() => "ready");
});

describe("a pull request's preview, from open to close", () => {
  beforeAll(async () => {
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: configYaml(appUrl) });
    gh.state.tarballs.set(SHA1, await tarball(SHA1, deployment(true)));
    gh.state.tarballs.set(SHA2, await tarball(SHA2, deployment(false)));
    gh.state.tarballs.set(SHA3, await tarball(SHA3, deployment(false)));
    gh.state.pulls.set(2, pull());
  });

  it(
    "opened: deploys the PR's commit, reports a check run, a deployment and one sticky comment",
    async () => {
      expect(await send("pull_request", prEvent("opened", gh.state.pulls.get(2)!))).toBe(200);

      const ns = fake.get("v1", "Namespace", undefined, NS);
      expect(ns?.metadata.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "preview-bot",
        "preview-bot.dev/pr": "2",
      });
      // the final state mark must not wipe what the deploy recorded (a partial server-side apply would)
      expect(ns?.metadata.annotations).toMatchObject({
        "preview-bot.dev/head-sha": SHA1,
        "preview-bot.dev/state": "ready",
        "preview-bot.dev/repository": `${OWNER}/${REPO}`,
      });
      const web = fake.get("apps/v1", "Deployment", NS, "web") as any;
      expect(web.spec.template.spec.containers[0].image).toBe(hello(SHA1));
      expect(web.metadata.annotations["preview-bot.dev/images"]).toBe(`web=${registry.host}/${HELLO}:${SHA1}`);
      expect(web.metadata.labels["app.kubernetes.io/managed-by"]).toBe("preview-bot");
      expect((fake.get("v1", "ConfigMap", NS, "extra") as any).data.greeting).toBe("hello from feature-greeting-uber");

      // The database Secret works: its credentials log in to the preview's own database.
      const secret = fake.get("v1", "Secret", NS, "hello-db") as any;
      const url = Buffer.from(secret.data.DATABASE_URL, "base64").toString();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query("create table notes (body text)");
      await client.query("insert into notes values ('kept across deploys')");
      await client.end();

      const run = gh.state.checkRuns.find((r) => r.head_sha === SHA1 && r.name === "preview")!;
      if (process.env.E2E_DEBUG) console.log(run.output.summary);
      expect(run.conclusion).toBe("success");
      expect(JSON.stringify(run.output)).toContain(`${appUrl}/${NS}/`);
      const dep = gh.state.deployments.find((d) => d.sha === SHA1)!;
      expect(dep.environment).toBe(`preview/${NS}`);
      expect(gh.writes("POST", /\/deployments$/)[0]!.body).toMatchObject({
        transient_environment: true,
        production_environment: false,
      });
      expect(dep.statuses.at(-1)).toMatchObject({ state: "success", environment_url: `${appUrl}/${NS}/` });
      expect(gh.sticky(2)).toHaveLength(1);
      expect(gh.sticky(2)[0]!.body).toContain(`${appUrl}/${NS}/`);
      // What runs, by digest, with the tag it was found by.
      expect(gh.sticky(2)[0]!.body).toContain(
        `- **Images:**\n  - \`${registry.host}/${HELLO}:${SHA1}\` @ \`${digests[SHA1]!.slice(0, 19)}\``,
      );
      expect(gh.sticky(2)[0]!.body).not.toContain(Buffer.from(secret.data.PASSWORD, "base64").toString());
    },
    DEADLINE,
  );

  it(
    "synchronize: updates images, prunes what left the render, keeps the data, edits the same comment",
    async () => {
      const commentPosts = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
      gh.state.pulls.set(2, pull({ sha: SHA2 }));
      expect(await send("pull_request", prEvent("synchronize", gh.state.pulls.get(2)!))).toBe(200);

      const web = fake.get("apps/v1", "Deployment", NS, "web") as any;
      expect(web.spec.template.spec.containers[0].image).toBe(hello(SHA2));
      expect(fake.get("v1", "ConfigMap", NS, "extra")).toBeUndefined();
      expect(gh.writes("POST", /\/issues\/\d+\/comments$/)).toHaveLength(commentPosts);
      expect(gh.writes("PATCH", /\/issues\/comments\/\d+$/).length).toBeGreaterThan(0);
      expect(gh.sticky(2)).toHaveLength(1);
      expect(gh.sticky(2)[0]!.body).toContain(SHA2.slice(0, 7));
      expect(gh.state.checkRuns.find((r) => r.head_sha === SHA2)?.conclusion).toBe("success");

      const secret = fake.get("v1", "Secret", NS, "hello-db") as any;
      const client = new pg.Client({ connectionString: Buffer.from(secret.data.DATABASE_URL, "base64").toString() });
      await client.connect();
      const { rows } = await client.query("select body from notes");
      await client.end();
      expect(rows).toEqual([{ body: "kept across deploys" }]);
    },
    DEADLINE,
  );

  it(
    "a failing roll-out fails fast with the pod's reason, long before its health timeout",
    async () => {
      gh.state.config = configYaml(appUrl, "30m"); // only the fail-fast can end this roll-out within the test's deadline
      fake.setWorkloadBehaviour((obj) =>
        obj.metadata.name === "web"
          ? { fail: "ImagePullBackOff", message: `Back-off pulling image "ghcr.io/codertocat/hello:${SHA3}"` }
          : "ready",
      );
      gh.state.pulls.set(2, pull({ sha: SHA3 }));
      await send("pull_request", prEvent("synchronize", gh.state.pulls.get(2)!));
      const run = gh.state.checkRuns.find((r) => r.head_sha === SHA3)!;
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toContain("ImagePullBackOff");
      expect(gh.state.deployments.find((d) => d.sha === SHA3)?.statuses.at(-1)?.state).toBe("failure");
      expect(gh.sticky(2)).toHaveLength(1);
      gh.state.config = configYaml(appUrl);
    },
    DEADLINE,
  );

  it(
    "a health check that never answers its status fails the run",
    async () => {
      gh.state.config = configYaml(appUrl, "3s"); // the check always answers 503: it fails at this deadline, whatever the machine's speed
      failHealth = true;
      gh.state.pulls.set(2, pull({ sha: SHA2 }));
      await send("pull_request", prEvent("synchronize", gh.state.pulls.get(2)!));
      // A completed check run cannot be reopened: the redeploy of the same commit gets a new one, shown as the latest.
      const runs = gh.state.checkRuns.filter((r) => r.head_sha === SHA2);
      expect(runs.map((r) => r.conclusion)).toEqual(["success", "failure"]);
      expect(JSON.stringify(runs[1]!.output)).toMatch(/healthz.*503/);
      gh.state.config = configYaml(appUrl);
    },
    DEADLINE,
  );

  it(
    "closed: removes the namespace and the database, marks the deployment inactive, says so in the comment",
    async () => {
      gh.state.pulls.set(2, pull({ sha: SHA2, state: "closed" }));
      const payload = prEvent("closed", gh.state.pulls.get(2)!);
      expect(await send("pull_request", payload)).toBe(200);

      expect(fake.get("v1", "Namespace", undefined, NS)).toBeUndefined();
      const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
      await admin.connect();
      const { rows } = await admin.query("select datname from pg_database where datname = $1", ["hello_pr_2"]);
      const roles = await admin.query("select rolname from pg_roles where rolname = $1", ["hello_pr_2_app"]);
      await admin.end();
      expect(rows).toHaveLength(0);
      expect(roles.rows).toHaveLength(0);
      for (const d of gh.state.deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
      expect(gh.sticky(2)).toHaveLength(1);
      expect(gh.sticky(2)[0]!.body).toMatch(/removed/i);
    },
    DEADLINE,
  );
});

describe("what must not deploy", () => {
  beforeEach(() => nock.cleanAll());
  it(
    "an invalid config gives a failing check run naming each field, and deploys nothing",
    async () => {
      gh = fakeGitHub({
        owner: OWNER,
        repo: REPO,
        installationId: INSTALLATION,
        config: "manifests:\n  path: deploy\nhealth:\n  timeout: soon\nsurprise: 1\n",
      });
      gh.state.pulls.set(5, pull({ number: 5, sha: SHA1 }));
      await send("pull_request", prEvent("opened", gh.state.pulls.get(5)!));
      const run = gh.state.checkRuns.find((r) => r.head_sha === SHA1)!;
      expect(run.conclusion).toBe("failure");
      const text = JSON.stringify(run.output);
      expect(text).toContain("health.timeout");
      expect(text).toContain("surprise");
      expect(fake.get("v1", "Namespace", undefined, "hello-world-pr-5")).toBeUndefined();
      nock.cleanAll();
    },
    DEADLINE,
  );

  it(
    "a pull request from a fork is not deployed automatically",
    async () => {
      gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: configYaml(appUrl) });
      gh.state.pulls.set(6, pull({ number: 6, fork: true, author: "someone" }));
      gh.state.tarballs.set(SHA1, await tarball(SHA1, deployment(true)));
      await send("pull_request", prEvent("opened", gh.state.pulls.get(6)!));
      // one comment saying how a maintainer can deploy it — and nothing else
      expect(gh.state.writes.map((w) => `${w.method} ${w.path}`)).toEqual([
        `POST /repos/${OWNER}/${REPO}/issues/6/comments`,
      ]);
      expect(gh.state.writes[0]!.body.body).toMatch(
        /No preview was deployed automatically: pull requests from forks deploy only when a maintainer comments `\/preview deploy`/,
      );
      expect(fake.get("v1", "Namespace", undefined, "hello-pr-6")).toBeUndefined();
      // later pushes to the fork PR say nothing more
      await send("pull_request", prEvent("synchronize", gh.state.pulls.get(6)!));
      expect(gh.state.writes).toHaveLength(1);
      nock.cleanAll();
    },
    DEADLINE,
  );

  it(
    "a repository without .github/preview.yml is not enrolled: no writes at all",
    async () => {
      gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION });
      gh.state.pulls.set(7, pull({ number: 7 }));
      await send("pull_request", prEvent("opened", gh.state.pulls.get(7)!));
      expect(gh.state.writes).toEqual([]);
      nock.cleanAll();
    },
    DEADLINE,
  );

  it(
    "a delivery with a bad signature is refused and does nothing",
    async () => {
      gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: configYaml(appUrl) });
      gh.state.pulls.set(8, pull({ number: 8 }));
      const res = await deliver(
        `http://127.0.0.1:${bot.port}`,
        SECRET,
        "pull_request",
        prEvent("opened", gh.state.pulls.get(8)!),
        undefined,
        "sha256=" + "0".repeat(64),
      );
      expect(res.status).toBe(400);
      await bot.app!.idle();
      expect(gh.state.writes).toEqual([]);
      nock.cleanAll();
    },
    DEADLINE,
  );
});
