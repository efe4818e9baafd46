/** The last run kept on a preview's namespace for the page: what it keeps, redacted and capped, and what it refuses. */
import { describe, expect, it } from "@jest/globals";
import { registerSecret } from "../../../src/logger.js";
import { decodeLastRun, encodeLastRun } from "../../../src/services/shared/last-run.js";
import type { RunReport } from "../../../src/services/shared/run-report.js";

const SECRET = "hunter2-last-run-canary";

const report = (over: Partial<RunReport> = {}): RunReport =>
  ({
    kind: "deploy",
    state: "failure",
    trigger: "push by @octocat",
    startedAt: "2026-12-07T10:00:00.000Z",
    finishedAt: "2026-12-07T10:01:00.000Z",
    summary: "Roll-out failed: web 0/1 ready: ImagePullBackOff",
    steps: [
      { name: "Render manifests", status: "success", startedAt: "2026-12-07T10:00:01.000Z", durationMs: 1200 },
      { name: "Roll out", status: "failure", durationMs: 30_000, detail: `web 0/1 ready (password ${SECRET})` },
    ],
    error: `rolling out: web not ready; DATABASE_URL=postgres://app:${SECRET}@db/app`,
    workloads: [
      { kind: "Deployment", name: "web", ready: false, summary: "0/1 ready", diagnosis: "x".repeat(20_000) },
      { kind: "Deployment", name: "worker", ready: true, summary: "1/1 ready" },
    ],
    ...over,
  }) as RunReport;

describe("the last run on the namespace", () => {
  registerSecret(SECRET);

  it("keeps the state, trigger, times, summary and every step with its timing, and reads back the same", () => {
    const run = decodeLastRun(encodeLastRun(report()))!;
    expect(run).toMatchObject({
      kind: "deploy",
      state: "failure",
      trigger: "push by @octocat",
      startedAt: "2026-12-07T10:00:00.000Z",
      finishedAt: "2026-12-07T10:01:00.000Z",
      summary: "Roll-out failed: web 0/1 ready: ImagePullBackOff",
    });
    expect(run.steps.map((s) => [s.name, s.status, s.durationMs])).toEqual([
      ["Render manifests", "success", 1200],
      ["Roll out", "failure", 30_000],
    ]);
    expect(run.workloads).toEqual([
      { kind: "Deployment", name: "web", ready: false, summary: "0/1 ready" },
      { kind: "Deployment", name: "worker", ready: true, summary: "1/1 ready" },
    ]);
  });

  it("redacts secrets and caps the diagnosis (an annotation stays small)", () => {
    const text = encodeLastRun(report());
    expect(text).not.toContain(SECRET);
    expect(text.length).toBeLessThan(12 * 1024);
    const run = decodeLastRun(text)!;
    expect(run.diagnosis).toMatch(/^rolling out: web not ready/);
    expect(run.diagnosis!.length).toBeLessThanOrEqual(8 * 1024);
    expect(run.steps[1]!.detail).toContain("[REDACTED]");
  });

  it("reads nothing from a value that is not one of ours", () => {
    expect(decodeLastRun(undefined)).toBeUndefined();
    expect(decodeLastRun("{not json")).toBeUndefined();
    expect(
      decodeLastRun(JSON.stringify({ kind: "deploy", state: "exploded", startedAt: "x", steps: [] })),
    ).toBeUndefined();
    expect(
      decodeLastRun(JSON.stringify({ ...JSON.parse(encodeLastRun(report())), summary: "y".repeat(5000) })),
    ).toBeUndefined();
  });
});
