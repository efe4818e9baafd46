/**
 * The Reporter against GitHub's REST API on nock: every interceptor a test declares must be used (`isDone()`), and
 * every write is counted — the write budget of a deploy is part of the contract. Only our own check runs and
 * comments are ever touched. (Outcomes and failures: reporter-outcomes.test.ts.)
 */
import { describe, expect, it } from "@jest/globals";
import nock from "nock";
import { WriteLanes } from "../../../src/services/github/write-lanes.js";
import type { RunReport } from "../../../src/services/shared/run-report.js";
import { GITHUB_API, issueComment, useNock } from "../../support/github.js";
import {
  APP_ID,
  ENV,
  MARKER,
  SHA1,
  SHA2,
  URL_,
  newReporter,
  record,
  report,
  succeeded,
  until,
  writesOf,
} from "./reporter-fixtures.js";

useNock();

describe("the write budget", () => {
  it("a healthy deploy of a new commit writes five times: check run created and completed, a deployment with one status, one comment", async () => {
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
      .patch("/repos/acme/web/check-runs/101")
      .reply(200, record(checkRuns, { id: 101 }))
      .get("/repos/acme/web/deployments")
      .query({ sha: SHA1, environment: ENV, per_page: "1" })
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, record(deployments, { id: 501 }))
      .post("/repos/acme/web/deployments/501/statuses")
      .reply(201, record(statuses, { id: 1 }))
      .get("/repos/acme/web/issues/42/comments")
      .query({ per_page: "100" })
      .reply(200, [issueComment(1, "LGTM", "octocat")])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, record(comments, { id: 9001 }));
    const writes = writesOf(scope);

    const reporter = newReporter();
    await reporter.started(report());
    await reporter.progress(
      report({
        steps: [
          { name: "Apply", status: "success" },
          { name: "Roll out", status: "running" },
        ],
      }),
    );
    await reporter.finished(succeeded());

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(writes).toEqual([
      "POST /repos/acme/web/check-runs",
      "PATCH /repos/acme/web/check-runs/101",
      "POST /repos/acme/web/deployments",
      "POST /repos/acme/web/deployments/501/statuses",
      "POST /repos/acme/web/issues/42/comments",
    ]);
    expect(checkRuns[0]).toMatchObject({
      name: "preview",
      head_sha: SHA1,
      status: "in_progress",
      external_id: "acme/web#42",
      details_url: URL_,
      output: { title: "Deploying feature/login" },
    });
    expect(String((checkRuns[0]!.output as { summary: string }).summary)).toContain(
      "| Render manifests | ✅ | 1.2 s | 29 objects |",
    );
    expect(checkRuns[1]).toMatchObject({
      status: "completed",
      conclusion: "success",
      completed_at: "2026-11-01T10:01:00.000Z",
    });
    expect(String((checkRuns[1]!.output as { summary: string }).summary)).toContain(
      `[\`0123456\`](https://github.com/acme/web/commit/${SHA1})`,
    );
    expect(deployments).toEqual([
      {
        ref: SHA1,
        environment: ENV,
        transient_environment: true,
        production_environment: false,
        auto_merge: false,
        required_contexts: [],
        description: "Preview of acme/web#42",
        payload: { key: "acme/web#42", namespace: "feature-login", url: URL_ },
      },
    ]);
    expect(statuses).toEqual([
      {
        state: "success",
        description: `Preview ready at ${URL_}`,
        log_url: "https://github.com/acme/web/runs/101",
        auto_inactive: true,
        environment_url: URL_,
      },
    ]);
    expect(String(comments[0]!.body).startsWith(MARKER)).toBe(true);
    expect(comments[0]!.body).toContain("✅ Preview ready");
    expect(comments[0]!.body).toContain("`feature_login` (ready)");
    expect(comments[0]!.body).toContain("[Checks](https://github.com/acme/web/pull/42/checks)");
  });

  it("edits the sticky comment of a new commit in place, and a redeploy that changes nothing writes only its new check run", async () => {
    const edited: Array<Record<string, unknown>> = [];
    const first = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 202, html_url: "https://github.com/acme/web/runs/202" })
      .patch("/repos/acme/web/check-runs/202")
      .reply(200, {})
      .get("/repos/acme/web/deployments")
      .query({ sha: SHA2, environment: ENV, per_page: "1" })
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 502 })
      .post("/repos/acme/web/deployments/502/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query({ per_page: "100" })
      .reply(200, [issueComment(7777, `${MARKER}\n### ✅ Preview ready (older commit)`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(200, record(edited, { id: 7777 }));
    const firstWrites = writesOf(first);
    const one = newReporter();
    await one.started(report({}, SHA2));
    await one.finished(succeeded(SHA2));
    expect(one.failures).toEqual([]);
    expect(first.isDone()).toBe(true);
    expect(firstWrites.filter((w) => w.includes("/issues/"))).toEqual(["PATCH /repos/acme/web/issues/comments/7777"]);
    expect(firstWrites).toHaveLength(5);

    // The same commit again, same outcome: the deployment's latest status and the comment already say so.
    const again = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        check_runs: [
          { id: 202, head_sha: SHA2, status: "completed", html_url: "u", app: { id: APP_ID, slug: "preview-bot" } },
        ],
      })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 203, html_url: "https://github.com/acme/web/runs/203" })
      .patch("/repos/acme/web/check-runs/203")
      .reply(200, {})
      .get("/repos/acme/web/deployments")
      .query({ sha: SHA2, environment: ENV, per_page: "1" })
      .reply(200, [{ id: 502 }])
      .get("/repos/acme/web/deployments/502/statuses")
      .query({ per_page: "1" })
      .reply(200, [{ id: 9, state: "success", environment_url: URL_ }])
      .get("/repos/acme/web/issues/42/comments")
      .query({ per_page: "100" })
      .reply(200, [issueComment(7777, String(edited[0]!.body), "preview-bot[bot]", APP_ID)]);
    const againWrites = writesOf(again);
    const two = newReporter();
    await two.started(report({ trigger: "/preview redeploy by @hubot" }, SHA2));
    await two.finished(
      succeeded(SHA2, {
        trigger: "/preview redeploy by @hubot",
        steps: [{ name: "Roll out", status: "success", durationMs: 900 }],
      }),
    );
    expect(two.failures).toEqual([]);
    expect(again.isDone()).toBe(true);
    expect(againWrites).toEqual(["POST /repos/acme/web/check-runs", "PATCH /repos/acme/web/check-runs/203"]);
  });

  it("batches step progress: a burst of steps during a write becomes one check-run update, and none after the finish", async () => {
    const patches: Array<Record<string, unknown>> = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let creating = false;
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, async () => {
        creating = true;
        await gate; // the in-progress write is slow; the steps keep coming meanwhile
        return { id: 101, html_url: "https://github.com/acme/web/runs/101" };
      })
      .patch("/repos/acme/web/check-runs/101")
      .reply(200, record(patches, {}));
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes, progressIntervalMs: 0 });
    const started = reporter.started(report());
    await until(() => creating);
    const step = (n: number): RunReport =>
      report({ steps: [{ name: "Apply", status: "running", detail: `${n} of 29 objects` }] });
    for (let n = 1; n <= 10; n++) await reporter.progress(step(n));
    await until(() => lanes.pending === 2); // the create still running, one batched update behind it
    release();
    await started;
    await reporter.flush();
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0])).toContain("10 of 29 objects");

    // A long interval: progress waits for its batch, and the finish cancels it.
    const slow = newReporter({ lanes, progressIntervalMs: 3_600_000 });
    nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 102, html_url: "h" })
      .patch("/repos/acme/web/check-runs/102")
      .reply(200, record(patches, {}))
      // The failed run's deployment status and comment (a write nobody answers would be retried, as transient).
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 503 })
      .post("/repos/acme/web/deployments/503/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 12 });
    await slow.started(report({}, SHA2));
    for (let n = 1; n <= 5; n++)
      await slow.progress(report({ steps: [{ name: "Apply", status: "running", detail: `${n}` }] }, SHA2));
    // Timers fire in order: one set now fires after any batch that was due at once (there must be none).
    await new Promise((r) => setTimeout(r, 1));
    await slow.flush();
    expect(patches).toHaveLength(1);
    await slow.finished(
      report({ state: "failure", summary: "Apply failed", finishedAt: "2026-11-01T10:02:00.000Z" }, SHA2),
    );
    await slow.flush();
    expect(patches.slice(1).map((p) => p.status)).toEqual(["completed"]);
    expect(scope.isDone()).toBe(true);
  });
});

describe("only ours", () => {
  it("never reuses another app's check run, nor edits another bot's comment or a person's quote of the marker", async () => {
    const comments: Array<Record<string, unknown>> = [];
    const checkRuns: Array<Record<string, unknown>> = [];
    const page2 = "https://api.github.com/repositories/1/issues/42/comments?per_page=100&page=2";
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA2}/check-runs`)
      .query(true)
      // Same name, same slug even — a different App ID: not ours.
      .reply(200, {
        total_count: 1,
        check_runs: [
          {
            id: 300,
            head_sha: SHA2,
            status: "in_progress",
            html_url: "x",
            app: { id: 456, slug: "preview-bot" },
            external_id: "acme/web#42",
          },
        ],
      })
      .post("/repos/acme/web/check-runs")
      .reply(201, record(checkRuns, { id: 301, html_url: "https://github.com/acme/web/runs/301" }))
      .patch("/repos/acme/web/check-runs/301")
      .reply(200, {})
      .get("/repos/acme/web/deployments")
      .query(true)
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
          issueComment(11, `${MARKER}\nnot ours`, "other-app[bot]", 456),
        ],
        { Link: `<${page2}>; rel="next"` },
      )
      .get("/repositories/1/issues/42/comments")
      .query({ per_page: "100", page: "2" })
      .reply(200, [issueComment(7777, `${MARKER}\n### ✅ Preview ready`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(200, record(comments, { id: 7777 }));
    const trap = nock(GITHUB_API)
      .patch("/repos/acme/web/check-runs/300")
      .reply(200, {})
      .patch(/\/repos\/acme\/web\/issues\/comments\/1[01]$/)
      .reply(200, {})
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 1 });

    const reporter = newReporter();
    await reporter.started(report({}, SHA2));
    await reporter.finished(succeeded(SHA2));

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(trap.pendingMocks()).toHaveLength(3);
    expect(checkRuns[0]).toMatchObject({ head_sha: SHA2, status: "in_progress" });
    expect(comments[0]!.body).toContain("`fedcba9`");
  });

  it("continues our own open check run of this preview (a crashed run left it), not another PR's on the same commit", async () => {
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, {
        total_count: 2,
        check_runs: [
          {
            id: 300,
            head_sha: SHA1,
            status: "in_progress",
            html_url: "https://github.com/acme/web/runs/300",
            app: { id: 456, slug: "someone-else" },
            external_id: "acme/web#42",
          },
          {
            id: 299,
            head_sha: SHA1,
            status: "in_progress",
            html_url: "https://github.com/acme/web/runs/299",
            app: { id: APP_ID, slug: "preview-bot" },
            external_id: "acme/web#7",
          },
          {
            id: 301,
            head_sha: SHA1,
            status: "in_progress",
            html_url: "https://github.com/acme/web/runs/301",
            app: { id: APP_ID, slug: "preview-bot" },
            external_id: "acme/web#42",
          },
        ],
      })
      .patch("/repos/acme/web/check-runs/301", (b: Record<string, unknown>) => b.status === "in_progress")
      .reply(200, { id: 301 });
    const reporter = newReporter();
    await reporter.started(report());
    expect(reporter.checkRunUrl).toBe("https://github.com/acme/web/runs/301");
    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });
});
