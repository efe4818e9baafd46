/**
 * Every kind of GitHub write the Reporter makes is tried again after a transient failure (5xx, 429, secondary rate
 * limit with `retry-after`), through the same backoff in its write lane (report-error.ts `retryDelayMs`): a
 * deployment's final status, a teardown's inactive statuses, the sticky comment's creation and edit, and the listing
 * that finds the check run a run continues. (The check run's write retry is in reporter-outcomes.test.ts.) The lane's first backoff is 1 s, so each case takes about a second.
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
  newReporter,
  record,
  report,
  succeeded,
  teardown,
  writesOf,
} from "./reporter-fixtures.js";

useNock();

const checkRunWrites = (scope: nock.Scope) =>
  scope
    .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] })
    .post("/repos/acme/web/check-runs")
    .reply(201, { id: 301, html_url: "https://github.com/acme/web/runs/301" });

const statusOf = (err: Error) => (err.cause as { status?: number }).status;

describe("transient failures of deployment and comment writes are retried", () => {
  it("writes the deployment's final status again after GitHub answers 502", async () => {
    const statuses: Array<Record<string, unknown>> = [];
    const scope = checkRunWrites(nock(GITHUB_API))
      .get("/repos/acme/web/deployments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/deployments")
      .reply(201, { id: 91 })
      .post("/repos/acme/web/deployments/91/statuses")
      .reply(502, { message: "Server Error" })
      .post("/repos/acme/web/deployments/91/statuses")
      .reply(201, record(statuses, {}))
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/5")
      .reply(200, {});
    const writes = writesOf(scope);
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.finished(succeeded());
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    // The deployment is created once; only its status is written again.
    expect(writes.filter((w) => w === "POST /repos/acme/web/deployments")).toHaveLength(1);
    expect(writes.filter((w) => w === "POST /repos/acme/web/deployments/91/statuses")).toHaveLength(2);
    expect(statuses).toEqual([expect.objectContaining({ state: "success" })]);
    expect(reporter.failures.map(statusOf)).toEqual([502]);
  });

  it("marks inactive again, after a secondary rate limit, only the deployment whose status failed", async () => {
    const inactive: string[] = [];
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/deployments")
      .query({ environment: ENV, per_page: "100" })
      .reply(200, [{ id: 71 }, { id: 72 }])
      .get("/repos/acme/web/deployments/71/statuses")
      .query(true)
      .reply(200, [{ state: "success" }])
      .get("/repos/acme/web/deployments/72/statuses")
      .query(true)
      .reply(200, [{ state: "failure" }])
      .post("/repos/acme/web/deployments/71/statuses")
      .reply(201, async (req: Request) => {
        inactive.push(`71 ${String(((await req.json()) as { state: string }).state)}`);
        return {};
      })
      .post("/repos/acme/web/deployments/72/statuses")
      .reply(
        403,
        { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
        { "retry-after": "1" },
      )
      .post("/repos/acme/web/deployments/72/statuses")
      .reply(201, async (req: Request) => {
        inactive.push(`72 ${String(((await req.json()) as { state: string }).state)}`);
        return {};
      })
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/5")
      .reply(200, {});
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.tornDown(teardown("success"));
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    expect(inactive).toEqual(["71 inactive", "72 inactive"]);
    expect(reporter.failures.map(statusOf)).toEqual([403]);
  });

  it("creates the sticky comment after GitHub answers 502, listing again first (never a second comment)", async () => {
    const comments: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(502, { message: "Server Error" })
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(201, record(comments, { id: 11 }));
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.stateChanged(report({ state: "success", summary: "Preview ready" }));
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    expect(comments).toHaveLength(1);
    expect(String(comments[0]!.body).startsWith(MARKER)).toBe(true);
    expect(reporter.failures.map(statusOf)).toEqual([502]);
  });

  it("edits the sticky comment again after GitHub answers 502", async () => {
    const edits: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [issueComment(5, `${MARKER}\nold`, "preview-bot[bot]", APP_ID)])
      .patch("/repos/acme/web/issues/comments/5")
      .reply(502, { message: "Server Error" })
      .patch("/repos/acme/web/issues/comments/5")
      .reply(200, record(edits, {}));
    const writes = writesOf(scope);
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.stateChanged(report({ state: "success", summary: "Preview ready" }));
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    expect(writes).toEqual(["PATCH /repos/acme/web/issues/comments/5", "PATCH /repos/acme/web/issues/comments/5"]);
    expect(String(edits[0]!.body)).toContain("Preview ready");
    expect(reporter.failures.map(statusOf)).toEqual([502]);
  });

  it("continues the fleet's queued check run after its listing failed once, instead of creating a second one", async () => {
    const checkRuns: Array<Record<string, unknown>> = [];
    const queued = {
      id: 401,
      head_sha: SHA1,
      status: "queued",
      html_url: "https://github.com/acme/web/runs/401",
      app: { id: APP_ID },
      external_id: "acme/web#42",
    };
    const scope = nock(GITHUB_API)
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(502, { message: "Server Error" })
      .get(`/repos/acme/web/commits/${SHA1}/check-runs`)
      .query(true)
      .reply(200, { total_count: 1, check_runs: [queued] })
      .patch("/repos/acme/web/check-runs/401")
      .reply(200, record(checkRuns, { id: 401 }));
    const writes = writesOf(scope);
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.started(report());
    await lanes.drain();

    expect(scope.isDone()).toBe(true);
    expect(writes).toEqual(["PATCH /repos/acme/web/check-runs/401"]);
    expect(checkRuns).toEqual([expect.objectContaining({ status: "in_progress" })]);
    expect(reporter.failures.map(statusOf)).toEqual([502]);
  });

  it("does not retry a comment GitHub refuses for good (422)", async () => {
    const scope = nock(GITHUB_API)
      .get("/repos/acme/web/issues/42/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/acme/web/issues/42/comments")
      .reply(422, { message: "Validation Failed" });
    const lanes = new WriteLanes();
    const reporter = newReporter({ lanes });
    await reporter.stateChanged(report({ state: "success", summary: "Preview ready" }));
    await lanes.drain();
    expect(scope.isDone()).toBe(true);
    expect(lanes.pending).toBe(0);
    expect(reporter.failures.map(statusOf)).toEqual([422]);
  });
});
