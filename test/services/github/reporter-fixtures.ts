/**
 * Shared by the Reporter's tests: run reports, a memory logger, nock reply helpers that record bodies and writes,
 * and a reporter with our App's identity.
 */
import nock from "nock";
import { Writable } from "node:stream";
import { createLogger } from "../../../src/logger.js";
import { previewNames } from "../../../src/services/preview/naming.js";
import { createReporter, type ReporterOptions } from "../../../src/services/github/reporter.js";
import type { RunReport } from "../../../src/services/shared/run-report.js";
import { testOctokit } from "../../support/github.js";

export const SHA1 = "0123456789abcdef0123456789abcdef01234567";
export const SHA2 = "fedcba9876543210fedcba9876543210fedcba98";
export const MARKER = "<!-- preview-bot:sticky acme/web#42 -->";
export const ENV = "preview/feature-login";
export const URL_ = "https://feature-login.previews.example.com/";
export const APP_ID = 123;

export function report(over: Partial<RunReport> = {}, sha = SHA1): RunReport {
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

export function succeeded(sha = SHA1, over: Partial<RunReport> = {}): RunReport {
  return report(
    {
      state: "success",
      summary: `Preview ready at ${URL_}`,
      url: URL_,
      steps: [
        { name: "Render manifests", status: "success", durationMs: 1200, detail: "29 objects" },
        { name: "Roll out", status: "success", durationMs: 31_000, detail: "web 1/1 ready" },
      ],
      database: { name: "feature_login", status: "ready" },
      finishedAt: "2026-11-01T10:01:00.000Z",
      ...over,
    },
    sha,
  );
}

export function memoryLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ destination, level: "debug" }), lines };
}

/** A reply that records the request body (nock 15 hands reply functions the fetch Request). */
export function record(bodies: Array<Record<string, unknown>>, response: Record<string, unknown> = {}) {
  return async (req: Request): Promise<Record<string, unknown>> => {
    bodies.push((await req.json()) as Record<string, unknown>);
    return response;
  };
}

/** Every write (non-GET) the scope answered, as `METHOD /path`, in order. */
export function writesOf(scope: nock.Scope): string[] {
  const writes: string[] = [];
  scope.on("request", (req: Request) => {
    if (req.method !== "GET") writes.push(`${req.method} ${new URL(req.url).pathname}`);
  });
  return writes;
}

export const newReporter = (over: Partial<ReporterOptions> = {}) =>
  createReporter({
    octokit: testOctokit(),
    owner: "acme",
    repo: "web",
    app: { id: APP_ID, slug: "preview-bot" },
    logger: memoryLogger().logger,
    ...over,
  });

export function teardown(state: "success" | "failure"): RunReport {
  return report({
    kind: "destroy",
    state,
    summary: state === "success" ? "Preview removed" : "Teardown incomplete: 1 problem(s)",
    steps: [
      { name: "Delete namespace", status: state, durationMs: 4200 },
      { name: "Drop database", status: "success", durationMs: 300 },
    ],
    database: { name: "feature_login", status: "dropped" },
    trigger: "PR closed",
  });
}

/** Wait for an observable state (generous bound; never a sleep as proof). */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
