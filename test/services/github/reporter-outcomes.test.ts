/**
 * The Reporter's outcomes against GitHub's REST API on nock: failures with their diagnosis (redacted), superseded
 * runs, teardown, failed GitHub calls (logged, counted, kept, never thrown), and the background tail of the
 * server's wiring.
 */
import { describe, expect, it } from "@jest/globals";
import nock from "nock";
import { WriteLanes } from "../../../src/services/github/write-lanes.js";
import { GITHUB_API, issueComment, useNock } from "../../support/github.js";
import {
  APP_ID,
  ENV,
  MARKER,
  SHA1,
  SHA2,
  URL_,
  memoryLogger,
  newReporter,
  record,
  report,
  succeeded,
  teardown,
  writesOf,
} from "./reporter-fixtures.js";

useNock();

describe("outcomes", () => {
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
      .get("/repos/acme/web/deployments/78/statuses")
      .query(true)
      .reply(200, [{ id: 1, state: "success", environment_url: URL_ }])
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
          diagnosis:
            'pod web-7d9f: Waiting (ImagePullBackOff): Back-off pulling image "ghcr.io/acme/web:0123456"\nlast log lines:\nstarting with PASSWORD=hunter2\nlistening on :8080',
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
    expect(out.text).toContain("PASSWORD=[REDACTED]");
    expect(out.text).not.toContain("worker");
    expect(statuses).toEqual([expect.objectContaining({ state: "failure" })]);
    const body = String(comments[0]!.body);
    expect(body).toContain("❌ Preview failed");
    expect(body).toMatch(/<details><summary>Failure diagnosis<\/summary>\n\n[\s\S]*ImagePullBackOff[\s\S]*<\/details>/);
    expect(JSON.stringify([checkRuns, statuses, comments])).not.toContain("hunter2");
  });

  it("concludes a superseded run as cancelled and leaves the deployment and the comment to the newer run", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        check_runs: [
          {
            id: 104,
            head_sha: SHA1,
            status: "in_progress",
            html_url: "x",
            app: { id: APP_ID },
            external_id: "acme/web#42",
          },
        ],
      })
      .patch("/repos/acme/web/check-runs/104")
      .reply(200, record(checkRuns, {}));
    const writes = writesOf(scope);
    const reporter = newReporter();
    await reporter.finished(report({ state: "superseded", summary: `Superseded by ${SHA2.slice(0, 7)}` }));
    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(writes).toEqual(["PATCH /repos/acme/web/check-runs/104"]);
    expect(checkRuns[0]).toMatchObject({
      status: "completed",
      conclusion: "cancelled",
      output: { title: "Superseded by fedcba9" },
    });
  });

  it("on teardown marks inactive each deployment not inactive already, and says the preview was removed", async () => {
    const statuses: Array<[string, Record<string, unknown>]> = [];
    const comments: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/deployments")
      .query({ environment: ENV, per_page: "100" })
      .reply(200, [{ id: 61 }, { id: 62 }, { id: 63 }])
      .get("/repos/acme/web/deployments/61/statuses")
      .query(true)
      .reply(200, [{ state: "success" }])
      .get("/repos/acme/web/deployments/62/statuses")
      .query(true)
      .reply(200, [{ state: "inactive" }])
      .get("/repos/acme/web/deployments/63/statuses")
      .query(true)
      .reply(200, [])
      .post(/\/repos\/acme\/web\/deployments\/6[13]\/statuses/)
      .times(2)
      .reply(201, async (req: Request) => {
        statuses.push([new URL(req.url).pathname, (await req.json()) as Record<string, unknown>]);
        return {};
      })
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/5")
      .reply(200, record(comments, {}));

    const reporter = newReporter();
    await reporter.tornDown(teardown("success"));

    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(statuses.map(([u]) => u).sort()).toEqual([
      "/repos/acme/web/deployments/61/statuses",
      "/repos/acme/web/deployments/63/statuses",
    ]);
    expect(statuses.every(([, b]) => b.state === "inactive")).toBe(true);
    const body = String(comments[0]!.body);
    expect(body).toContain("✅ Preview removed");
    expect(body).toContain("- namespace `feature-login`");
    expect(body).toContain("- database `feature_login` (dropped)");
    expect(body).not.toContain("/preview redeploy");
  });

  it("does not headline a teardown that failed as removed", async () => {
    const comments: Array<Record<string, unknown>> = [];
    nock(GITHUB_API)
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [])
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, record(comments, { id: 6 }));
    const reporter = newReporter();
    await reporter.tornDown(teardown("failure"));
    expect(reporter.failures).toEqual([]);
    expect(String(comments[0]!.body)).toContain("❌ Teardown failed");
    expect(String(comments[0]!.body)).not.toContain("Preview removed");
  });
});

describe("failures are visible", () => {
  it("does not throw when GitHub answers 500, and logs, counts and keeps what it was doing (then writes again)", async () => {
    const { logger, lines } = memoryLogger();
    const counted: string[] = [];
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, { id: 105, html_url: "https://github.com/acme/web/runs/105" })
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 80 })
      .post("/repos/acme/web/deployments/80/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(7777, `${MARKER}\nold`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(500, { message: "Internal Server Error" })
      .patch("/repos/acme/web/issues/comments/7777")
      .reply(200, {}); // a 5xx is transient: the edit is written again (reporter-retries.test.ts)

    const reporter = newReporter({ logger, onFailure: (surface) => counted.push(surface) });
    await expect(reporter.finished(succeeded())).resolves.toBeUndefined();

    expect(scope.isDone()).toBe(true);
    expect(counted).toEqual(["comment"]);
    expect(reporter.failures).toHaveLength(1);
    const failure = reporter.failures[0]!;
    expect(failure.message).toMatch(/^updating comment 7777 on acme\/web#42: /);
    expect((failure.cause as { status?: number }).status).toBe(500);
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).startsWith("updating comment 7777"));
    expect(logged).toMatchObject({
      level: 40,
      key: "acme/web#42",
      status: 500,
      surface: "comment",
      component: "reporter",
    });
    expect(JSON.stringify(logged)).not.toContain("ghs_testinstallationtoken");
  });
});

describe("transient failures are retried", () => {
  it("concludes the check run after GitHub answers 502 to the concluding write (a check run left in progress is a lost result)", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, record(checkRuns, { id: 107, html_url: "https://github.com/acme/web/runs/107" }))
      .patch("/repos/acme/web/check-runs/107")
      .reply(502, { message: "Server Error" })
      .patch("/repos/acme/web/check-runs/107")
      .reply(200, record(checkRuns, { id: 107 }))
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 82 })
      .post("/repos/acme/web/deployments/82/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 10 });
    const writes = writesOf(scope);
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.started(report());
    await reporter.finished(succeeded());
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    expect(writes.filter((w) => w.startsWith("PATCH /repos/acme/web/check-runs/107"))).toHaveLength(2);
    expect(checkRuns.at(-1)).toMatchObject({ status: "completed", conclusion: "success" });
    expect(reporter.failures.map((f) => (f.cause as { status?: number }).status)).toEqual([502]);
  });

  it("does not retry a write GitHub refuses for good (422)", async () => {
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(422, { message: "Validation Failed" });
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.started(report());
    await lanes.drain();
    expect(scope.isDone()).toBe(true);
    expect(lanes.pending).toBe(0);
    expect(reporter.failures).toHaveLength(1);
  });
});

describe("background tail (the server's wiring)", () => {
  it("finishes once the check run is concluded; the deployment and comment drain behind it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let created!: () => void;
    const checkRunCreated = new Promise<void>((r) => (created = r));
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] })
      .post("/repos/acme/web/check-runs")
      .reply(201, () => {
        created();
        return { id: 106, html_url: "h" };
      })
      // The deployment is ready to write only after the check run was (else the lane may start it first, and its
      // held write would keep the check run waiting behind it).
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, async () => {
        await checkRunCreated;
        return [];
      })
      .post("/repos/acme/web/deployments")
      .reply(201, async () => {
        await gate;
        return { id: 81 };
      })
      .post("/repos/acme/web/deployments/81/statuses")
      .reply(201, {})
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, { id: 9 });
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes, tail: "background" });
    await reporter.finished(succeeded());
    expect(scope.pendingMocks().some((m) => m.includes("/issues/42/comments"))).toBe(true);
    release();
    await lanes.drain();
    expect(reporter.failures).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });
});
