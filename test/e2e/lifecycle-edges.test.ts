/**
 * The lifecycle's edges, end to end: a newer commit supersedes a deploy still running, trigger policies (label,
 * command), a PR that edits .github/preview.yml gets a check on its version, a namespace that will not go away is
 * reported (and the teardown says it failed), a database is kept rather than dropped without its final backup, the
 * repository's protectedNamespaces are never touched, and two PRs can never share a namespace.
 *
 * No test here waits a fixed time: roll-outs that must stay in progress get a long health timeout and are ended by
 * the test (a newer push, or the Deployment's status set ready), and every wait is on observable state.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import nock from "nock";
import pg from "pg";
import {
  markReady,
  startHarness,
  pull,
  prEvent,
  waitFor,
  webApp,
  INSTALLATION,
  OWNER,
  REPO,
  type Harness,
} from "../support/e2e-bot.js";
import { deliver, fakeGitHub } from "../support/github-fake.js";
import { requireRegistry, type SharedRegistry } from "../support/registry-suite.js";

const SHA1 = "1".repeat(40);
const SHA2 = "2".repeat(40);

const files = (image: string) => ({ "k8s/app.yaml": webApp({ name: "app", image }) });
const DEADLINE = 120_000; // each test takes a second or two on an idle machine

let h: Harness;
let impatient: Harness;
let gh: ReturnType<typeof fakeGitHub>;
/** The image CI pushed for both commits, in the run's real registry (images[] renames ghcr.io/o/app to it). */
let registry: SharedRegistry;
const APP = `lib/edges-${Math.random().toString(36).slice(2, 8)}-app`;
let digest2: string;

function enroll(config: string) {
  nock.cleanAll();
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
}

beforeAll(async () => {
  registry = requireRegistry();
  await registry.push(APP, SHA1, { seed: 1 });
  digest2 = (await registry.push(APP, SHA2, { seed: 2 })).digest;
  h = await startHarness();
  // A second server on the same cluster gives up on a terminating namespace after 1 s: only the stuck-namespace test
  // sends it work, so no other test depends on a deletion finishing within a second.
  impatient = await startHarness({ env: { NAMESPACE_DELETE_TIMEOUT: "1" }, cluster: h.fake });
}, DEADLINE);
afterAll(async () => {
  await impatient?.bot.close();
  await h?.stop();
});
beforeEach(() => h.fake.setWorkloadBehaviour(() => "ready"));

describe("lifecycle edges", () => {
  it(
    "a push while a deploy is rolling out supersedes it: the older run ends cancelled, the newer one deploys",
    async () => {
      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nimages: [{ name: ghcr.io/o/app, newName: ${registry.host}/${APP}, tag: "{sha}" }]\nhealth: { timeout: 30m }\n`,
      );
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("ghcr.io/o/app:dev")));
      gh.state.tarballs.set(SHA2, await h.tarball(SHA2, files("ghcr.io/o/app:dev")));
      gh.state.pulls.set(11, pull({ number: 11, sha: SHA1 }));
      // The first commit's pods never become ready (but nothing fatal: the wait would last the whole timeout).
      h.fake.setWorkloadBehaviour((obj) =>
        JSON.stringify(obj).includes(SHA1) ? { fail: "ContainerCreating" } : "ready",
      );
      const base = `http://127.0.0.1:${h.bot.port}`;
      await deliver(base, "e2e-webhook-secret", "pull_request", prEvent("opened", gh.state.pulls.get(11)!));
      // wait until the first deploy is in its roll-out step (which lasts until superseded), then push
      await waitFor(
        "the first deploy to apply its Deployment",
        () => h.fake.get("apps/v1", "Deployment", "edge-11", "app") !== undefined,
      );
      gh.state.pulls.set(11, pull({ number: 11, sha: SHA2 }));
      await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(11)!));

      const first = gh.state.checkRuns.find((r) => r.head_sha === SHA1)!;
      const second = gh.state.checkRuns.find((r) => r.head_sha === SHA2)!;
      expect(first.conclusion).toBe("cancelled");
      expect(JSON.stringify(first.output)).toMatch(/superseded/i);
      expect(second.conclusion).toBe("success");
      const app = h.fake.get("apps/v1", "Deployment", "edge-11", "app") as any;
      expect(app.spec.template.spec.containers[0].image).toBe(`${registry.host}/${APP}@${digest2}`);
    },
    DEADLINE,
  );

  it(
    "a label added while a deploy runs does not cancel it",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nhealth: { timeout: 30m }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("ghcr.io/o/app:slow")));
      gh.state.pulls.set(19, pull({ number: 19, sha: SHA1 }));
      h.fake.setWorkloadBehaviour(() => ({ fail: "ContainerCreating" })); // not fatal: the roll-out waits
      const base = `http://127.0.0.1:${h.bot.port}`;
      await deliver(base, "e2e-webhook-secret", "pull_request", prEvent("opened", gh.state.pulls.get(19)!));
      await waitFor(
        "the deploy to apply its Deployment",
        () => h.fake.get("apps/v1", "Deployment", "edge-19", "app") !== undefined,
      );
      gh.state.pulls.set(19, pull({ number: 19, sha: SHA1, labels: ["bug"] }));
      const labeled = await deliver(
        base,
        "e2e-webhook-secret",
        "pull_request",
        prEvent("labeled", gh.state.pulls.get(19)!),
      );
      expect(labeled.status).toBe(200); // accepted and queued while the deploy still rolls out
      await markReady(h.fake, "edge-19", "app");
      await h.bot.app!.idle();
      const runs = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA1);
      expect(runs.map((r) => r.conclusion)).toEqual(["success"]); // finished on its own, not cancelled
    },
    DEADLINE,
  );

  it(
    "trigger.on: label deploys only once the label is added, and ignores other labels",
    async () => {
      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ntrigger: { on: label, label: preview }\n`,
      );
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(12, pull({ number: 12 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(12)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-12")).toBeUndefined();
      gh.state.pulls.set(12, pull({ number: 12, labels: ["bug"] }));
      await h.send("pull_request", prEvent("labeled", gh.state.pulls.get(12)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-12")).toBeUndefined();
      gh.state.pulls.set(12, pull({ number: 12, labels: ["bug", "preview"] }));
      await h.send("pull_request", prEvent("labeled", gh.state.pulls.get(12)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-12")).toBeDefined();
    },
    DEADLINE,
  );

  it(
    "trigger.on: command never deploys on its own",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ntrigger: { on: command }\n`);
      gh.state.pulls.set(13, pull({ number: 13 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(13)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-13")).toBeUndefined();
      expect(gh.state.writes).toEqual([]);
    },
    DEADLINE,
  );

  it(
    "a PR that edits .github/preview.yml gets a failing config check on its version, and is judged by the default branch's",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(14, pull({ number: 14, files: [".github/preview.yml"] }));
      gh.state.configAt.set(SHA1, `manifests: { path: k8s }\nnames: { namespace: "always-the-same" }\n`);
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(14)!));
      const config = gh.state.checkRuns.find((r) => r.name === "preview / config")!;
      expect(config.conclusion).toBe("failure");
      expect(JSON.stringify(config.output)).toContain("names.namespace");
      // the deploy itself used the default branch's rules
      expect(h.fake.get("v1", "Namespace", undefined, "edge-14")).toBeDefined();
      expect(gh.state.checkRuns.find((r) => r.name === "preview")?.conclusion).toBe("success");
    },
    DEADLINE,
  );

  it(
    "a namespace stuck Terminating is reported, and teardown still does the rest",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(15, pull({ number: 15 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(15)!));
      h.fake.stickNamespace("edge-15");
      gh.state.pulls.set(15, pull({ number: 15, state: "closed" }));
      await impatient.send("pull_request", prEvent("closed", gh.state.pulls.get(15)!));
      const sticky = gh.sticky(15)[0]!.body;
      expect(sticky).toMatch(/still Terminating/);
      // the headline says what happened: not "removed" while something is left
      expect(sticky).toContain("### ❌ Teardown failed");
      expect(sticky).not.toContain("Preview removed");
      for (const d of gh.state.deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
      h.fake.releaseNamespace("edge-15");
    },
    DEADLINE,
  );

  it(
    "two PRs whose names would collide: the second is refused, the first preview is untouched",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "feature-{branch}" }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(16, pull({ number: 16, branch: "login" }));
      gh.state.pulls.set(17, pull({ number: 17, branch: "login" }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(16)!));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(17)!));
      const ns = h.fake.get("v1", "Namespace", undefined, "feature-login");
      expect(ns?.metadata.labels?.["preview-bot.dev/pr"]).toBe("16");
      const second = gh.state.checkRuns.filter((r) => r.name === "preview").at(-1)!;
      expect(second.conclusion).toBe("failure");
      expect(JSON.stringify(second.output)).toMatch(/already belongs to another preview/);
    },
    DEADLINE,
  );

  it(
    "dispatches the E2E workflow against the healthy preview and folds its conclusion into the check run",
    async () => {
      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nroute: { host: "{name}.previews.example.test", expose: { service: app, port: 80 }, parentRefs: [{ name: previews, namespace: gateway-system }], scheme: https }\ne2e:\n  workflow: e2e.yml\n  inputs: { base_url: "{url}", commit: "{shortSha}" }\n`,
      );
      gh.state.tarballs.set(
        SHA1,
        await h.tarball(SHA1, { "k8s/app.yaml": webApp({ name: "app", image: "nginx:1", service: true }) }),
      );
      gh.state.pulls.set(18, pull({ number: 18, branch: "e2e-ok" }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(18)!));
      const dispatch = gh.writes("POST", /\/actions\/workflows\/e2e\.yml\/dispatches$/)[0]!;
      expect(dispatch.body).toEqual({
        ref: "e2e-ok",
        inputs: { base_url: "https://edge-18.previews.example.test/", commit: SHA1.slice(0, 7) },
      });
      const run = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA1).at(-1)!;
      expect(run.conclusion).toBe("success");
      expect(JSON.stringify(run.output)).toMatch(/E2E tests.*e2e\.yml: success/);
      expect(gh.sticky(18)[0]!.body).toContain(gh.state.workflowRuns.at(-1)!.html_url);

      gh.state.e2eConclusion = "failure";
      gh.state.pulls.set(18, pull({ number: 18, branch: "e2e-ok", sha: SHA2 }));
      gh.state.tarballs.set(
        SHA2,
        await h.tarball(SHA2, { "k8s/app.yaml": webApp({ name: "app", image: "nginx:2", service: true }) }),
      );
      await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(18)!));
      const failed = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA2).at(-1)!;
      expect(failed.conclusion).toBe("failure");
      expect(JSON.stringify(failed.output)).toMatch(/E2E workflow \\"e2e\.yml\\" concluded failure/);
      gh.state.e2eConclusion = "success";
    },
    DEADLINE,
  );

  it(
    "runs database.seed from the PR's commit once, as the preview role, and refuses a seed path outside the repository",
    async () => {
      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ndatabase:\n  enabled: true\n  seed: db/seed.sql\n`,
      );
      gh.state.tarballs.set(
        SHA1,
        await h.tarball(SHA1, {
          ...files("nginx:1"),
          "db/seed.sql": "create table fruit (name text); insert into fruit values ('apple'), ('pear');",
        }),
      );
      gh.state.pulls.set(20, pull({ number: 20, sha: SHA1 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(20)!));
      const secret = h.fake.get("v1", "Secret", "edge-20", "preview-database") as any;
      const u = new URL(process.env.TEST_PG_URL!);
      const c = new pg.Client({
        host: u.hostname,
        port: Number(u.port),
        database: "edge_20",
        user: Buffer.from(secret.data.PGUSER, "base64").toString(),
        password: Buffer.from(secret.data.PGPASSWORD, "base64").toString(),
      });
      await c.connect();
      const { rows } = await c.query(
        "select tableowner, (select count(*)::int from fruit) as n from pg_tables where tablename = 'fruit'",
      );
      await c.end();
      expect(rows).toEqual([{ tableowner: "edge_20_app", n: 2 }]);

      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ndatabase:\n  enabled: true\n  seed: ../../etc/passwd\n`,
      );
      gh.state.tarballs.set(SHA2, await h.tarball(SHA2, files("nginx:1")));
      gh.state.pulls.set(21, pull({ number: 21, sha: SHA2 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(21)!));
      // caught by the schema, before anything runs: a failing config check naming the field
      const run = gh.state.checkRuns.filter((r) => r.name === "preview / config" && r.head_sha === SHA2).at(-1)!;
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toMatch(/database\.seed: must be a relative path inside the repository/);
      expect(h.fake.get("v1", "Namespace", undefined, "edge-21")).toBeUndefined();
    },
    DEADLINE,
  );

  it(
    "a YAML syntax error in .github/preview.yml is reported with the file, the field and the offending line quoted",
    async () => {
      enroll(`names: { namespace: "edge-{number}" }\nmanifests:\n  path: k8s: deploy\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(32, pull({ number: 32, sha: SHA1 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(32)!));
      const run = gh.state.checkRuns.filter((r) => r.name === "preview / config" && r.head_sha === SHA1).at(-1)!;
      expect(run.conclusion).toBe("failure");
      // Not cut at "line 3, column 9:": the line itself is quoted, with the field it is in; in the summary (Markdown,
      // whitespace folded) and, as written, in the annotation on that line of the file.
      const error =
        '.github/preview.yml is not valid YAML (at manifests.path): Nested mappings are not allowed in compact mappings at line 3, column 9: "  path: k8s: deploy"';
      expect(run.output?.summary.replace(/\\(.)/g, "$1")).toContain(`- line 3: ${error.replace(/\s+/g, " ")}`);
      expect((run.output as { annotations?: unknown[] }).annotations).toEqual([
        expect.objectContaining({ path: ".github/preview.yml", start_line: 3, end_line: 3, message: error }),
      ]);
      expect(h.fake.get("v1", "Namespace", undefined, "edge-32")).toBeUndefined();
    },
    DEADLINE,
  );

  it(
    "shows render warnings in the check run, not only in the logs",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nvariables: { GREETING: hello }\n`);
      gh.state.tarballs.set(
        SHA1,
        await h.tarball(SHA1, {
          ...files("nginx:1"),
          "k8s/cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { api: "${API_URL}" }\n',
        }),
      );
      gh.state.pulls.set(22, pull({ number: 22, sha: SHA1 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(22)!));
      const run = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA1).at(-1)!;
      expect(run.conclusion).toBe("success");
      expect(JSON.stringify(run.output)).toMatch(/1 note.*API.*URL.*is not defined in variables/);
    },
    DEADLINE,
  );

  it(
    "keeps the database, and says so, when database.finalBackup is set but there is no backup storage",
    async () => {
      enroll(
        `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ndatabase: { enabled: true, finalBackup: true }\n`,
      );
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(23, pull({ number: 23 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(23)!));
      gh.state.pulls.set(23, pull({ number: 23, state: "closed" }));
      await h.send("pull_request", prEvent("closed", gh.state.pulls.get(23)!));
      expect(await databaseExists("edge_23")).toBe(true);
      const sticky = gh.sticky(23)[0]!.body;
      expect(sticky).toContain("### ❌ Teardown failed");
      expect(sticky).toContain(
        "database edge_23 was kept, not dropped: database.finalBackup is true, but preview-bot has no backup storage configured",
      );
      expect(h.fake.get("v1", "Namespace", undefined, "edge-23")).toBeUndefined(); // the rest was still torn down
    },
    DEADLINE,
  );

  it.each([
    [
      "cannot be read",
      24,
      (g: typeof gh) => void (g.state.configError = 500),
      /kept: its \.github\/preview\.yml could not be read/,
    ],
    [
      "is gone (not enrolled any more)",
      25,
      (g: typeof gh) => void delete g.state.config,
      /kept: the repository has no \.github\/preview\.yml on its default branch any more/,
    ],
  ])(
    "keeps the database, and says so, when at teardown the config %s",
    async (_what, n, breakConfig, reason) => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\ndatabase: { enabled: true }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(n, pull({ number: n }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(n)!));
      expect(await databaseExists(`edge_${n}`)).toBe(true);
      breakConfig(gh);
      gh.state.pulls.set(n, pull({ number: n, state: "closed" }));
      await h.send("pull_request", prEvent("closed", gh.state.pulls.get(n)!));
      expect(await databaseExists(`edge_${n}`)).toBe(true);
      expect(h.fake.get("v1", "Namespace", undefined, `edge-${n}`)).toBeUndefined();
      const sticky = gh.sticky(n)[0]!.body;
      expect(sticky).toMatch(reason);
      expect(sticky).toMatch(/whether it wants a final backup \\?\(database\.finalBackup\\?\) is unknown/);
      expect(sticky).toContain("- namespace `edge-");
      const deployments = gh.state.deployments.filter((x) => x.environment === `preview/edge-${n}`);
      expect(deployments.length).toBeGreaterThan(0);
      for (const d of deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
    },
    DEADLINE,
  );

  it(
    "never deploys into, nor deletes, a namespace on the repository's protectedNamespaces list",
    async () => {
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nprotectedNamespaces: [edge-30]\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(30, pull({ number: 30 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(30)!));
      const refused = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA1).at(-1)!;
      expect(refused.conclusion).toBe("failure");
      expect(JSON.stringify(refused.output)).toMatch(
        /namespace \\"edge-30\\" is protected \(default, kube-\*, PROTECTED_NAMESPACES or protectedNamespaces\): preview-bot never deploys into it/,
      );
      expect(h.fake.get("v1", "Namespace", undefined, "edge-30")).toBeUndefined();

      // a preview deployed before its namespace was listed is not deleted once it is
      enroll(`manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\n`);
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, files("nginx:1")));
      gh.state.pulls.set(31, pull({ number: 31 }));
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(31)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-31")).toBeDefined();
      gh.state.config = `manifests: { path: k8s }\nnames: { namespace: "edge-{number}" }\nprotectedNamespaces: [edge-31]\n`;
      gh.state.pulls.set(31, pull({ number: 31, state: "closed" }));
      await h.send("pull_request", prEvent("closed", gh.state.pulls.get(31)!));
      expect(h.fake.get("v1", "Namespace", undefined, "edge-31")?.metadata.deletionTimestamp).toBeUndefined();
      expect(gh.sticky(31)[0]!.body).toContain(
        "namespace edge-31 kept: it is in protectedNamespaces of .github/preview.yml",
      );
    },
    DEADLINE,
  );
});

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: process.env.TEST_PG_URL });
  await c.connect();
  try {
    return ((await c.query("select 1 from pg_database where datname = $1", [name])).rowCount ?? 0) > 0;
  } finally {
    await c.end();
  }
}
