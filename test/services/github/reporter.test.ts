import { describe, expect, it } from "@jest/globals";
import nock from "nock";
import { Writable } from "node:stream";
import { createLogger } from "../../../src/logger.js";
import { previewNames } from "../../../src/services/preview/naming.js";
import { createReporter } from "../../../src/services/github/reporter.js";
import type { RunReport } from "../../../src/services/shared/run-report.js";
import { GITHUB_API, issueComment, testOctokit, useNock } from "../../support/github.js";

const SHA1 = "0123456789abcdef0123456789abcdef01234567";
const SHA2 = "fedcba9876543210fedcba9876543210fedcba98";
const MARKER = "<!-- preview-bot:sticky acme/web#42 -->";
const ENV = "preview/feature-login";

function report(over: Partial<RunReport> = {}, sha = SHA1): RunReport {
  const ref = { owner: "acme", repo: "web", number: 42, branch: "login", sha };
  const names = previewNames(ref, { namespace: "feature-{branch}", host: "{name}.previews.example.com" });
  return {
    kind: "deploy",
    ref,
    names,
    state: "in_progress",
    steps: [
      { name: "Render manifests", status: "success", durationMs: 1200, detail: "29 objects" },
      { name: "Apply", status: "running" },
    ],
    summary: "Deploying feature/login",
    startedAt: "2026-11-01T10:00:00.000Z",
    trigger: "push by @octocat",
    ...over,
  };
}

function succeeded(sha = SHA1): RunReport {
  return report(
    {
      state: "success",
      summary: "Preview ready at https://feature-login.previews.example.com/",
      url: "https://feature-login.previews.example.com/",
      steps: [
        { name: "Render manifests", status: "success", durationMs: 1200, detail: "29 objects" },
        { name: "Roll out", status: "success", durationMs: 31_000, detail: "web 1/1 ready" },
      ],
      database: { name: "feature_login", status: "ready" },
      finishedAt: "2026-11-01T10:01:00.000Z",
    },
    sha,
  );
}

function memoryLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ destination, level: "debug" }), lines };
}

/**
 * A reply that records the request body. nock 15 hands reply functions the fetch `Request` (one parameter: sync or
 * async; two would mean callback style). Body matchers are not used for this: nock may run them against other
 * interceptors too.
 */
function record(bodies: Array<Record<string, unknown>>, response: Record<string, unknown> = {}) {
  return async (req: Request): Promise<Record<string, unknown>> => {
    bodies.push((await req.json()) as Record<string, unknown>);
    return response;
  };
}

const newReporter = (logger = memoryLogger().logger) =>
  createReporter({ octokit: testOctokit(), owner: "acme", repo: "web", appSlug: "preview-bot", logger });

useNock();

describe("GitHub reporter", () => {
  it("creates a check run, a deployment and a sticky comment on start, and concludes all three on success", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const deployments: Array<Record<string, unknown>> = [];
    const statuses: Array<Record<string, unknown>> = [];
    const comments: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query({ check_name: "preview", filter: "latest", per_page: "100" })
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, record(checkRuns, { id: 101, html_url: "https://github.com/acme/web/runs/101" }))
      .get("/repos/acme/web/deployments")
      .query({ sha: SHA1, environment: ENV, per_page: "1" })
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, record(deployments, { id: 501 }))
      .post("/repos/acme/web/deployments/501/statuses")
      .times(2)
      .reply(201, record(statuses, { id: 1 }))
      .get("/repos/acme/web/issues/42/comments")
      .query({ per_page: "100" })
      .reply(200, [issueComment(1, "LGTM", "octocat")])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, record(comments, { id: 9001 }))
      .patch("/repos/acme/web/check-runs/101")
      .reply(200, record(checkRuns, { id: 101 }))
      .patch("/repos/acme/web/issues/comments/9001")
      .reply(200, record(comments, { id: 9001 }));

    const reporter = newReporter();
    await reporter.started(report());
    await reporter.finished(succeeded());

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);

    expect(checkRuns[0]).toMatchObject({
      name: "preview",
      head_sha: SHA1,
      status: "in_progress",
      external_id: "acme/web#42",
      details_url: "https://feature-login.previews.example.com/",
      output: { title: "Deploying feature/login" },
    });
    expect(String((checkRuns[0]!.output as { summary: string }).summary)).toContain("| Render manifests | ✅ | 1.2 s | 29 objects |");
    expect(checkRuns[1]).toMatchObject({ status: "completed", conclusion: "success", completed_at: "2026-11-01T10:01:00.000Z" });
    const finalSummary = (checkRuns[1]!.output as { summary: string }).summary;
    expect(finalSummary).toContain("https://feature-login.previews.example.com/");
    expect(finalSummary).toContain("`feature-login`");
    expect(finalSummary).toContain(`[\`0123456\`](https://github.com/acme/web/commit/${SHA1})`);

    expect(deployments).toEqual([
      {
        ref: SHA1,
        environment: ENV,
        transient_environment: true,
        production_environment: false,
        auto_merge: false,
        required_contexts: [],
        description: "Preview of acme/web#42",
        payload: { key: "acme/web#42", namespace: "feature-login" },
      },
    ]);
    expect(statuses).toEqual([
      { state: "in_progress", description: "Deploying feature/login", log_url: "https://github.com/acme/web/runs/101" },
      {
        state: "success",
        description: "Preview ready at https://feature-login.previews.example.com/",
        log_url: "https://github.com/acme/web/runs/101",
        auto_inactive: true,
        environment_url: "https://feature-login.previews.example.com/",
      },
    ]);

    expect(String(comments[0]!.body).startsWith(MARKER)).toBe(true);
    expect(comments[0]!.body).toContain("Deploying preview");
    expect(comments[1]!.body).toContain("✅ Preview ready");
    expect(comments[1]!.body).toContain("`feature_login` (ready)");
    expect(comments[1]!.body).toContain("/preview redeploy");
  });

  it("edits the bot's existing comment for a new SHA, ignoring a person who quoted the marker", async () => {
    const comments: Array<Record<string, unknown>> = [];
    const checkRuns: Array<Record<string, unknown>> = [];
    const page2 = "https://api.github.com/repositories/1/issues/42/comments?per_page=100&page=2";
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, record(checkRuns, { id: 202, html_url: "https://github.com/acme/web/runs/202" }))
      .get("/repos/acme/web/deployments")
      .query({ sha: SHA2, environment: ENV, per_page: "1" })
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 502 })
      .post("/repos/acme/web/deployments/502/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query({ per_page: "100" })
      .reply(
        200,
        [
          issueComment(10, `Why does ${MARKER} show up in the source?`, "mallory"),
          issueComment(11, `${MARKER}\nnot ours`, "other-app[bot]"),
        ],
        { Link: `<${page2}>; rel="next"` },
      )
      .get("/repositories/1/issues/42/comments")
      .query({ per_page: "100", page: "2" })
      .reply(200, [issueComment(7777, `${MARKER}\n### ✅ Preview ready`, "preview-bot[bot]")])
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(200, record(comments, { id: 7777 }));
    const trap = nock(GITHUB_API).post("/repos/acme/web/issues/42/comments").reply(201, { id: 1 });
    const hijack = nock(GITHUB_API).patch(/\/repos\/acme\/web\/issues\/comments\/1[01]$/).reply(200, {});

    const reporter = newReporter();
    await reporter.started(report({}, SHA2));

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(trap.isDone()).toBe(false);
    expect(hijack.isDone()).toBe(false);
    expect(checkRuns[0]).toMatchObject({ head_sha: SHA2, status: "in_progress" });
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain("`fedcba9`");
  });

  it("updates the open check run of the same commit on a redeploy, and starts a new one when it is completed", async () => {
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, {
        total_count: 2,
        check_runs: [
          { id: 300, head_sha: SHA1, status: "in_progress", html_url: "https://github.com/acme/web/runs/300", app: { slug: "someone-else" } },
          { id: 301, head_sha: SHA1, status: "in_progress", html_url: "https://github.com/acme/web/runs/301", app: { slug: "preview-bot" } },
        ],
      })
      .patch("/repos/acme/web/check-runs/301", (b: Record<string, unknown>) => b.status === "in_progress")
      .reply(200, { id: 301 })
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [{ id: 400, head_sha: SHA2, status: "completed", html_url: "u", app: { slug: "preview-bot" } }] })
      .post("/repos/acme/web/check-runs", (b: Record<string, unknown>) => b.head_sha === SHA2)
      .reply(201, { id: 401, html_url: "https://github.com/acme/web/runs/401" })
      .get("/repos/acme/web/deployments")
      .times(2)
      .query(true)
      .reply(200, [{ id: 77 }])
      .post("/repos/acme/web/deployments/77/statuses")
      .times(2)
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]")])
      .patch("/repos/acme/web/issues/comments/5")
      .times(2)
      .reply(200, {});

    const reporter = newReporter();
    await reporter.started(report());
    expect(reporter.checkRunUrl).toBe("https://github.com/acme/web/runs/301");
    await reporter.started(report({ summary: "Redeploying" }, SHA2));
    expect(reporter.checkRunUrl).toBe("https://github.com/acme/web/runs/401");
    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("coalesces progress updates into few check-run writes", async () => {
    const patches: Array<Record<string, unknown>> = [];
    nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 101, html_url: "https://github.com/acme/web/runs/101" })
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [{ id: 77 }])
      .post("/repos/acme/web/deployments/77/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 1 })
      .patch("/repos/acme/web/check-runs/101")
      .times(5)
      .reply(200, record(patches, {}));

    const reporter = newReporter();
    const started = reporter.started(report());
    const step = (n: number): RunReport => report({ steps: [{ name: "Apply", status: "running", detail: `${n} of 29 objects` }] });
    await Promise.all([started, reporter.progress(step(1)), reporter.progress(step(2)), reporter.progress(step(3))]);
    await reporter.progress(step(3)); // unchanged output: not sent again

    expect(reporter.failures).toEqual([]);
    expect(patches).toHaveLength(1);
    expect((patches[0]!.output as { summary: string }).summary).toContain("3 of 29 objects");
  });

  it("reports a failure with the workload's diagnosis, redacted in the check run and the comment", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const statuses: Array<Record<string, unknown>> = [];
    const comments: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, record(checkRuns, { id: 103, html_url: "https://github.com/acme/web/runs/103" }))
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [{ id: 78 }])
      .post("/repos/acme/web/deployments/78/statuses")
      .reply(201, record(statuses, {}))
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, record(comments, { id: 9 }));

    const failed = report({
      state: "failure",
      summary: "Roll-out failed: web 0/1 ready: ImagePullBackOff",
      steps: [{ name: "Roll out", status: "failure", durationMs: 300_000, detail: "web 0/1 ready" }],
      workloads: [
        {
          kind: "Deployment",
          name: "web",
          ready: false,
          summary: "0/1 ready: ImagePullBackOff",
          diagnosis: "pod web-7d9f: Waiting (ImagePullBackOff): Back-off pulling image \"ghcr.io/acme/web:0123456\"\nlast log lines:\nstarting with PASSWORD=hunter2\nlistening on :8080",
        },
        { kind: "Deployment", name: "worker", ready: true, summary: "1/1 ready" },
      ],
      error: "rolling out acme/web#42: web 0/1 ready",
      finishedAt: "2026-11-01T10:06:00.000Z",
    });
    const reporter = newReporter();
    await reporter.finished(failed);

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    const out = checkRuns[0]!.output as { title: string; summary: string; text: string };
    expect(checkRuns[0]).toMatchObject({ status: "completed", conclusion: "failure" });
    expect(out.title).toBe("Roll-out failed: web 0/1 ready: ImagePullBackOff");
    expect(out.summary).toContain("- ❌ Deployment `web` — 0/1 ready: ImagePullBackOff");
    expect(out.text).toContain("**Deployment `web`** — 0/1 ready: ImagePullBackOff");
    expect(out.text).toContain("Back-off pulling image");
    expect(out.text).toContain("PASSWORD=[REDACTED]");
    expect(out.text).not.toContain("worker");
    expect(statuses[0]).toMatchObject({ state: "failure" });
    const body = String(comments[0]!.body);
    expect(body).toContain("❌ Preview failed");
    expect(body).toMatch(/<details><summary>Failure diagnosis<\/summary>\n\n[\s\S]*ImagePullBackOff[\s\S]*<\/details>/);
    expect(body).toContain("PASSWORD=[REDACTED]");
    expect(JSON.stringify([checkRuns, statuses, comments])).not.toContain("hunter2");
  });

  it("concludes a superseded run as cancelled, naming the newer commit", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const statuses: Array<Record<string, unknown>> = [];
    nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [{ id: 104, head_sha: SHA1, status: "in_progress", html_url: "x", app: { slug: "preview-bot" } }] })
      .patch("/repos/acme/web/check-runs/104")
      .reply(200, record(checkRuns, {}))
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [{ id: 79 }])
      .post("/repos/acme/web/deployments/79/statuses")
      .reply(201, record(statuses, {}))
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 9 });

    const reporter = newReporter();
    await reporter.finished(report({ state: "superseded", summary: `Superseded by ${SHA2.slice(0, 7)}` }));
    expect(reporter.failures).toEqual([]);
    expect(checkRuns[0]).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Superseded by fedcba9" } });
    expect(statuses[0]).toMatchObject({ state: "inactive" });
  });

  it("marks every deployment of the environment inactive on teardown and says the preview was removed", async () => {
    const statuses: Array<[string, Record<string, unknown>]> = [];
    const comments: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/deployments")
      .query({ environment: ENV, per_page: "100" })
      .reply(200, [{ id: 61 }, { id: 62 }])
      .post(/\/repos\/acme\/web\/deployments\/6[12]\/statuses/)
      .times(2)
      .reply(201, async (req: Request) => {
        statuses.push([new URL(req.url).pathname, (await req.json()) as Record<string, unknown>]);
        return {};
      })
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]")])
      .patch("/repos/acme/web/issues/comments/5")
      .reply(200, record(comments, {}));

    const reporter = newReporter();
    await reporter.tornDown(
      report({
        kind: "destroy",
        state: "success",
        summary: "Preview removed",
        steps: [
          { name: "Delete namespace", status: "success", durationMs: 4200 },
          { name: "Drop database", status: "success", durationMs: 300 },
        ],
        database: { name: "feature_login", status: "dropped" },
        trigger: "PR closed",
      }),
    );

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(statuses.map(([u]) => u).sort()).toEqual(["/repos/acme/web/deployments/61/statuses", "/repos/acme/web/deployments/62/statuses"]);
    expect(statuses.every(([, b]) => b.state === "inactive")).toBe(true);
    const body = String(comments[0]!.body);
    expect(body).toContain("Preview removed");
    expect(body).toContain("- namespace `feature-login`");
    expect(body).toContain("- database `feature_login` (dropped)");
    expect(body).not.toContain("/preview redeploy");
  });

  it("does not throw when GitHub answers 500 on the comment update, and logs what it was doing", async () => {
    const { logger, lines } = memoryLogger();
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 105, html_url: "https://github.com/acme/web/runs/105" })
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [{ id: 80 }])
      .post("/repos/acme/web/deployments/80/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(7777, `${MARKER}\nold`, "preview-bot[bot]")])
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(500, { message: "Internal Server Error" });

    const reporter = newReporter(logger);
    await expect(reporter.started(report())).resolves.toBeUndefined();

    expect(scope.isDone()).toBe(true);
    expect(reporter.failures).toHaveLength(1);
    const failure = reporter.failures[0]!;
    expect(failure.message).toMatch(/^updating comment 7777 on acme\/web#42: /);
    expect((failure.cause as { status?: number }).status).toBe(500);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith("updating comment 7777"));
    expect(logged).toMatchObject({ level: 40, key: "acme/web#42", status: 500, component: "reporter" });
    expect(JSON.stringify(logged)).not.toContain("ghs_testinstallationtoken");
  });
});
