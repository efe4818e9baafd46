/**
 * The GitHub side through the real server (`startServer` → `buildApp`, GitHub on the fake): the write budget of a
 * deploy counted on the wire, only our own check run and comment ever touched (the App's identity is wired), the
 * `trigger.afterChecks` gate from a webhook and from a sweep (the newest run of a check deciding), the comment door
 * answering GitHub before it asks GitHub anything, and failed GitHub writes visible in /metrics.
 *
 * After every test the bot's own counter of failed GitHub calls must show exactly the failures the test injected.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import {
  commentEvent,
  pull,
  prEvent,
  startHarness,
  webApp,
  INSTALLATION,
  OWNER,
  REPO,
  SECRET,
  type Harness,
} from "../support/e2e-bot.js";
import { deliver, examplePayload, fakeGitHub } from "../support/github-fake.js";

const sha = (c: string) => c.repeat(40);
const BASE = `manifests: { path: k8s }\nnames: { namespace: "gh-{number}" }\nroute: { host: "{name}.previews.example.test", expose: { service: web, port: 80 }, parentRefs: [{ name: previews, namespace: gateway-system }], scheme: https }\n`;
const FOREIGN_APP = { id: 999, slug: "other-previews" };

let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
let injectedFailures = 0;

/** The bot's preview_bot_github_report_failures_total, summed over surfaces. */
async function reportFailures(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.bot.port}/metrics`)).text();
  return [...text.matchAll(/^preview_bot_github_report_failures_total\{[^}]*\} (\d+)$/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

/** Writes (not token requests) the bot made while `fn` ran, as `METHOD /path` with ids as `:id`. */
async function writesDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const from = gh.state.writes.length;
  await fn();
  return gh.state.writes
    .slice(from)
    .map((w) => `${w.method} ${w.path.replace(/\/\d+(?=\/|$)/g, "/:id").replace(/\/[0-9a-f]{40}/g, "/:sha")}`);
}

beforeAll(async () => {
  h = await startHarness({ env: { PREVIEW_DATABASE_URL: "" } });
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: BASE });
  for (const c of "123456789")
    gh.state.tarballs.set(
      sha(c),
      await h.tarball(sha(c), { "k8s/app.yaml": webApp({ image: "ghcr.io/o/app:1", service: true }) }),
    );
  for (const [login, role] of Object.entries({ "wes-write": "write" })) gh.state.roles.set(login, role);
});
afterAll(async () => h?.stop());
afterEach(async () => {
  await h.bot.app!.idle();
  expect(await reportFailures()).toBe(injectedFailures);
});

describe("the write budget, on the wire", () => {
  it("a new commit: 5 writes; the next commit: 5 (the comment edited); a redeploy that changes nothing: its check run's 2", async () => {
    gh.state.pulls.set(91, pull({ number: 91, sha: sha("1") }));
    const opened = await writesDuring(() => h.send("pull_request", prEvent("opened", gh.state.pulls.get(91)!)));
    expect(opened).toEqual([
      "POST /repos/Codertocat/Hello-World/check-runs", // 1. check run, in progress
      "PATCH /repos/Codertocat/Hello-World/check-runs/:id", // 2. completed
      "POST /repos/Codertocat/Hello-World/deployments", // 3. the commit's deployment
      "POST /repos/Codertocat/Hello-World/deployments/:id/statuses", // 4. its one status (success, environment URL)
      "POST /repos/Codertocat/Hello-World/issues/:id/comments", // 5. the sticky comment (first deploy: created)
    ]);
    const status = gh.state.deployments.at(-1)!.statuses;
    expect(status).toEqual([
      expect.objectContaining({ state: "success", environment_url: "https://gh-91.previews.example.test/" }),
    ]);

    gh.state.pulls.set(91, pull({ number: 91, sha: sha("2") }));
    const pushed = await writesDuring(() => h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(91)!)));
    expect(pushed).toEqual([
      "POST /repos/Codertocat/Hello-World/check-runs",
      "PATCH /repos/Codertocat/Hello-World/check-runs/:id",
      "POST /repos/Codertocat/Hello-World/deployments",
      "POST /repos/Codertocat/Hello-World/deployments/:id/statuses",
      "PATCH /repos/Codertocat/Hello-World/issues/comments/:id", // edited in place
    ]);

    const event = commentEvent("/preview redeploy", "wes-write", { number: 91 });
    event.comment.created_at = new Date().toISOString();
    const redeploy = await writesDuring(() => h.send("issue_comment", event));
    expect(redeploy.sort()).toEqual([
      "PATCH /repos/Codertocat/Hello-World/check-runs/:id",
      "POST /repos/Codertocat/Hello-World/check-runs",
      "POST /repos/Codertocat/Hello-World/issues/comments/:id/reactions", // the comment's 👀, not the deploy's
    ]);
    expect(gh.sticky(91)).toHaveLength(1);
  });
});

describe("only ours", () => {
  it("leaves another app's `preview` check run and another bot's marker comment alone", async () => {
    const head = sha("3");
    gh.state.checkRuns.push({
      id: 5,
      name: "preview",
      head_sha: head,
      status: "in_progress",
      app: FOREIGN_APP,
      html_url: "https://github.com/o/r/runs/5",
    });
    gh.state.comments.push({
      id: 6,
      issue: 92,
      body: `<!-- preview-bot:sticky ${OWNER}/${REPO}#92 -->\nsomeone else's`,
      user: { login: "other-previews[bot]", type: "Bot" },
      performed_via_github_app: FOREIGN_APP,
    });
    gh.state.pulls.set(92, pull({ number: 92, sha: head }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(92)!));
    expect(gh.state.checkRuns.find((r) => r.id === 5)!.status).toBe("in_progress");
    expect(gh.writes("PATCH", /\/check-runs\/5$/)).toEqual([]);
    expect(gh.state.checkRuns.filter((r) => r.head_sha === head && r.app?.id === 123).map((r) => r.conclusion)).toEqual(
      ["success"],
    );
    expect(gh.state.comments.find((c) => c.id === 6)!.body).toContain("someone else's");
    expect(gh.sticky(92).filter((c) => c.performed_via_github_app?.id === 123)).toHaveLength(1);
  });
});

describe("trigger.afterChecks", () => {
  beforeAll(() => {
    gh.state.config = `${BASE}trigger: { afterChecks: [ci] }\n`;
  });
  afterAll(() => {
    gh.state.config = BASE;
  });

  it("waits for the named check on the head commit, and deploys when it succeeds", async () => {
    const head = sha("4");
    gh.state.pulls.set(93, pull({ number: 93, sha: head }));
    gh.state.checkRuns.push({ id: 7, name: "ci", head_sha: head, status: "in_progress", app: { id: 555, slug: "ci" } });
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(93)!));
    expect(gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === head)).toEqual([]);

    Object.assign(
      gh.state.checkRuns.find((r) => r.id === 7)!,
      { status: "completed", conclusion: "success" },
    );
    const done = examplePayload("check_run", "completed");
    done.installation = { id: INSTALLATION, node_id: "x" };
    Object.assign(done.check_run, {
      name: "ci",
      head_sha: head,
      conclusion: "success",
      app: { ...done.check_run.app, id: 555, slug: "ci" },
      pull_requests: [{ ...done.check_run.pull_requests[0], number: 93 }],
    });
    await h.send("check_run", done);
    expect(
      gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === head).map((r) => r.conclusion),
    ).toEqual(["success"]);
  });

  it("a sweep deploys a PR whose check succeeded (its webhook was lost), judged by the newest run of that check", async () => {
    const head = sha("5");
    gh.state.pulls.set(94, pull({ number: 94, sha: head }));
    // Two runs of the `ci` workflow on the commit: the first failed, the re-run succeeded.
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    gh.state.actionRuns.push({
      id: 8,
      name: "ci",
      head_sha: head,
      status: "completed",
      conclusion: "failure",
      created_at: minutesAgo(10),
    });
    gh.state.actionRuns.push({
      id: 9,
      name: "ci",
      head_sha: head,
      status: "completed",
      conclusion: "success",
      created_at: minutesAgo(2),
    });
    const result = await h.bot.app!.sweeper.sweep();
    await h.bot.app!.idle();
    expect(result.dispatched).toContain(`deploy ${OWNER}/${REPO}#94 (missing)`);
    expect(
      gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === head).map((r) => r.conclusion),
    ).toEqual(["success"]);
  });
});

describe("the comment door", () => {
  it("answers GitHub before it asks GitHub anything", async () => {
    gh.state.pulls.set(95, pull({ number: 95, sha: sha("6") }));
    const held = gh.hold("GET", /\/collaborators\/[^/]+\/permission$/);
    const event = commentEvent("/preview status", "wes-write", { number: 95 });
    event.comment.created_at = new Date().toISOString();
    const res = await deliver(`http://127.0.0.1:${h.bot.port}`, SECRET, "issue_comment", event);
    expect(res.status).toBe(200); // acknowledged while the permission check is still held
    await held.reached;
    held.release();
    await h.bot.app!.idle();
    expect(gh.state.reactions).toContainEqual({ commentId: event.comment.id, content: "eyes" });
  });
});

describe("GitHub errors are visible", () => {
  it("a failed write is logged and counted in /metrics, and the run still concludes", async () => {
    gh.state.pulls.set(96, pull({ number: 96, sha: sha("7") }));
    gh.failNext("POST", /\/issues\/96\/comments$/, 502);
    injectedFailures += 1;
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(96)!));
    expect(
      gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha("7")).map((r) => r.conclusion),
    ).toEqual(["success"]);
    const text = await (await fetch(`http://127.0.0.1:${h.bot.port}/metrics`)).text();
    expect(text).toMatch(/^preview_bot_github_report_failures_total\{surface="comment"\} 1$/m);
  });
});
