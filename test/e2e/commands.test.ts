/**
 * Driving a preview from PR comments, for real: signed `issue_comment` deliveries into the one-port server → queue →
 * runner → the real @kubernetes/client-node against the fake API server, the real PostgreSQL for the preview
 * database, GitHub's REST API on nock. The repository deploys only on command (`trigger.on: command`).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { commentEvent, startHarness, webApp, type Harness } from "../support/e2e-bot.js";
import { examplePayload, fakeGitHub, type FakePull } from "../support/github-fake.js";

const OWNER = "octo-cmds";
const REPO = "shop";
const INSTALLATION = 41;
const PR = 12;
const SHA = "c".repeat(40);
const NS = "cmds-pr-12";
const URL_ = "https://cmds-pr-12.previews.example.test/";
const EXPIRES = "preview-bot.dev/expires-at";
const DAY = 86_400_000;

const CONFIG = `
manifests:
  path: deploy
names:
  namespace: "cmds-pr-{number}"
route:
  host: "{name}.previews.example.test"
  expose: { service: web, port: 80 }
  parentRefs: [{ name: previews, namespace: gateway-system }]
  scheme: https
ttl: 1d
trigger:
  on: command
database:
  enabled: true
  secret:
    name: shop-db
    keys: { user: USER, password: PASSWORD, url: DATABASE_URL }
`;

const MANIFESTS = webApp({ image: "ghcr.io/octo-cmds/shop:latest", service: true });

let h: Harness;
let fake: Harness["fake"];
let gh: ReturnType<typeof fakeGitHub>;
let database: string | undefined;

function pull(overrides: Partial<FakePull> = {}): FakePull {
  return {
    number: PR,
    title: "Basket totals",
    branch: "feature/basket",
    sha: SHA,
    state: "open",
    fork: false,
    draft: false,
    labels: [],
    author: "wes-write",
    files: ["src/basket.ts"],
    ...overrides,
  };
}

/** Deliver a comment and wait until every job it caused has finished; returns the comment's id. */
async function comment(body: string, login: string): Promise<number> {
  const event = commentEvent(body, login, { owner: OWNER, repo: REPO, number: PR, installationId: INSTALLATION });
  expect(await h.send("issue_comment", event)).toBe(200);
  return event.comment.id;
}

/** Comments posted since `from` that are not the sticky status comment: the bot's replies. */
function repliesSince(from: number): string[] {
  return gh
    .writes("POST", /\/issues\/\d+\/comments$/)
    .slice(from)
    .map((w) => w.body.body as string)
    .filter((b) => !b.includes("preview-bot:sticky"));
}

async function databaseExists(name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
  await admin.connect();
  try {
    return (await admin.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  h = await startHarness();
  fake = h.fake;
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
  gh.state.tarballs.set(SHA, await h.tarball(SHA, { "deploy/app.yaml": MANIFESTS }));
  gh.state.pulls.set(PR, pull());
  for (const [login, role] of Object.entries({ "mia-maintain": "maintain", "wes-write": "write", "rita-read": "read" }))
    gh.state.roles.set(login, role);
});

afterAll(async () => h?.stop());

describe("a preview driven from PR comments (trigger: command)", () => {
  it("does not deploy on its own when the pull request opens", async () => {
    const payload = examplePayload("pull_request", "opened");
    payload.installation = { id: INSTALLATION, node_id: "x" };
    payload.repository = {
      ...payload.repository,
      name: REPO,
      full_name: `${OWNER}/${REPO}`,
      owner: { ...payload.repository.owner, login: OWNER },
    };
    payload.number = PR;
    payload.pull_request.number = PR;
    payload.pull_request.head.sha = SHA;
    expect(await h.send("pull_request", payload)).toBe(200);
    expect(fake.get("v1", "Namespace", undefined, NS)).toBeUndefined();
    expect(gh.state.writes).toEqual([]);
  });

  it("/preview deploy by a writer deploys: namespace, database, check run, an eyes reaction and no reply", async () => {
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    const id = await comment("/preview deploy", "wes-write");

    const ns = fake.get("v1", "Namespace", undefined, NS);
    expect(ns?.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "preview-bot",
      "preview-bot.dev/pr": String(PR),
    });
    expect((fake.get("apps/v1", "Deployment", NS, "web") as any).spec.template.spec.containers[0].image).toBe(
      "ghcr.io/octo-cmds/shop:latest",
    );
    const secret = fake.get("v1", "Secret", NS, "shop-db") as any;
    database = new URL(Buffer.from(secret.data.DATABASE_URL, "base64").toString()).pathname.slice(1);
    expect(await databaseExists(database)).toBe(true);

    const run = gh.state.checkRuns.find((r) => r.head_sha === SHA && r.name === "preview");
    expect(run?.conclusion).toBe("success");
    expect(gh.writes("POST", /\/check-runs$/)[0]!.body.head_sha).toBe(SHA);
    expect(gh.state.reactions).toEqual([{ commentId: id, content: "eyes" }]);
    expect(repliesSince(from)).toEqual([]);
    expect(gh.sticky(PR)).toHaveLength(1);
    expect(JSON.stringify(run?.output)).toMatch(/Triggered by:\*\* \/preview deploy by @.?wes-write/u);
  });

  it("/preview status by a reader replies with the state and the URL", async () => {
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    await comment("/preview status", "rita-read");
    const replies = repliesSince(from);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("**ready**");
    expect(replies[0]).toContain(`\`${NS}\``);
    expect(replies[0]).toContain(URL_);
    expect(replies[0]).toMatch(/✅ Deployment `web`/);
  });

  it("/preview extend 3d moves the namespace's expiry and says until when", async () => {
    const before = fake.get("v1", "Namespace", undefined, NS)!.metadata.annotations![EXPIRES]!;
    // a day after the deploy (however long ago the deploy test ran on a slow machine)
    expect(Date.parse(before)).toBeLessThanOrEqual(Date.now() + DAY);
    expect(Date.parse(before)).toBeGreaterThan(Date.now() + DAY - 30 * 60_000);
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    const asked = Date.now();
    await comment("/preview extend 3d", "wes-write");

    const after = fake.get("v1", "Namespace", undefined, NS)!.metadata.annotations![EXPIRES]!;
    expect(Date.parse(after)).toBeGreaterThanOrEqual(asked + 3 * DAY);
    expect(Date.parse(after)).toBeLessThan(Date.now() + 3 * DAY + 1000);
    const replies = repliesSince(from);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain(after);
  });

  it("a deploy after /preview extend keeps the later expiry (a push does not undo an extension)", async () => {
    const extended = fake.get("v1", "Namespace", undefined, NS)!.metadata.annotations![EXPIRES]!;
    expect(Date.parse(extended)).toBeGreaterThan(Date.now() + 2 * DAY); // set by the test before
    const runs = gh.state.checkRuns.length;
    await comment("/preview redeploy", "wes-write");
    expect(gh.state.checkRuns.length).toBeGreaterThan(runs);
    expect(gh.state.checkRuns.at(-1)!.conclusion).toBe("success");
    expect(fake.get("v1", "Namespace", undefined, NS)!.metadata.annotations![EXPIRES]).toBe(extended);
  });

  it("/preview destroy --dry-run lists what would be removed and removes nothing", async () => {
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    const patches = gh.state.writes.length;
    await comment("/preview destroy --dry-run", "mia-maintain");

    const replies = repliesSince(from);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(/^@mia-maintain Dry run: would remove/);
    expect(replies[0]).toContain(`namespace ${NS}`);
    expect(replies[0]).toContain(`database ${database}`);
    expect(replies[0]).toContain("Nothing was changed");
    const ns = fake.get("v1", "Namespace", undefined, NS) as { status?: { phase?: string } } | undefined;
    expect(ns).toBeDefined();
    expect(ns?.status?.phase).not.toBe("Terminating");
    expect(await databaseExists(database!)).toBe(true);
    // Nothing but the reply and the reaction was written: no deployment status, no sticky edit.
    expect(
      gh.state.writes
        .slice(patches)
        .map((w) => `${w.method} ${w.path}`)
        .sort(),
    ).toEqual(
      [
        `POST /repos/${OWNER}/${REPO}/issues/${PR}/comments`,
        expect.stringMatching(/^POST \/repos\/octo-cmds\/shop\/issues\/comments\/\d+\/reactions$/),
      ].sort(),
    );
  });

  it("/preview destroy by a writer is refused politely and removes nothing", async () => {
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    await comment("/preview destroy", "wes-write");
    expect(repliesSince(from)).toEqual([
      "@wes-write Sorry, `destroy` needs maintain access to this repository (you have write).",
    ]);
    expect(fake.get("v1", "Namespace", undefined, NS)).toBeDefined();
    expect(await databaseExists(database!)).toBe(true);
  });

  it("/preview destroy by a maintainer removes the namespace and the database", async () => {
    await comment("/preview destroy", "mia-maintain");
    expect(fake.get("v1", "Namespace", undefined, NS)).toBeUndefined();
    expect(await databaseExists(database!)).toBe(false);
    expect(gh.sticky(PR)[0]!.body).toMatch(/removed/i);
    for (const d of gh.state.deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
  });

  it("/preview status afterwards says no preview exists", async () => {
    const from = gh.writes("POST", /\/issues\/\d+\/comments$/).length;
    await comment("/preview status", "rita-read");
    expect(repliesSince(from)).toEqual([
      "@rita-read No preview exists for this pull request. Comment `/preview deploy` to create one.",
    ]);
  });
});
