/**
 * The `preview` check run of one run, kept in step with the run's latest report: created in progress (or already
 * completed, when the run finished before its first write's turn came), updated only when its output changed, and
 * completed once. Only our own open check run of the same commit is reused; a completed one cannot go back to in
 * progress, so a redeploy of a commit gets a new check run. A write GitHub fails transiently is tried again with
 * backoff (report-error.ts): a check run left `queued` or `in_progress` is a deploy nobody hears the end of. So is
 * the listing that finds the open run to continue: when it fails, the write lists again (with the same backoff)
 * before it creates a run, so the fleet's queued run of the commit is not left behind a second one.
 */
import type { RunReport } from "../shared/run-report.js";
import type { OurApp } from "./app-identity.js";
import { attempt, httpStatus, reportError, WriteFailures } from "./report-error.js";
import { renderCheckRunOutput } from "./report-markdown.js";
import type { SurfaceContext } from "./surface.js";
import type { WriteOutcome } from "./write-lanes.js";

export const CHECK_RUN_NAME = "preview";

type Conclusion = "success" | "failure" | "neutral" | "cancelled";

function conclusionOf(report: RunReport): Conclusion {
  switch (report.state) {
    case "success":
      return "success";
    case "failure":
      return "failure";
    case "superseded":
    case "cancelled":
      return "cancelled";
    case "queued":
    case "in_progress":
      return "neutral";
  }
}

interface Run {
  id: number;
  sha: string;
  url: string;
}

export class CheckRunSync {
  private desired: { report: RunReport; done: boolean } | undefined;
  private run: Run | undefined;
  /** What was last written to `run` (status and output), to skip writes that change nothing. */
  private sent: string | undefined;
  /** Writes failed in a row (the backoff of the next try). */
  private readonly failures = new WriteFailures();
  /** Our open check run per commit, as looked up (null: none). */
  private readonly found = new Map<string, Run | null>();

  constructor(
    private readonly ctx: SurfaceContext,
    private readonly ours: OurApp,
  ) {}

  get url(): string | undefined {
    return this.run?.url || undefined;
  }

  /** The state to bring the check run to on its next write. */
  set(report: RunReport, done: boolean): void {
    this.desired = { report, done };
  }

  /** Look up our open check run for the commit (a retried or crashed run, or the fleet's line, may have left one). */
  async prepare(): Promise<void> {
    const report = this.desired?.report;
    if (!report || report.kind !== "deploy") return;
    const sha = report.ref.sha;
    if (this.run?.sha === sha || this.found.has(sha)) return;
    try {
      await this.lookUp(report);
    } catch (err) {
      // Unknown: the write looks again before it creates one (a queued run of this commit may wait to be continued).
      this.ctx.fail("check_run", reportError("listing check runs", err), report);
    }
  }

  /** Our open check run of the report's commit, or none, into `found`. */
  private async lookUp(report: RunReport): Promise<void> {
    const sha = report.ref.sha;
    const { octokit, owner, repo } = this.ctx;
    const { data } = await attempt(`listing check runs for ${report.names.key} at ${sha.slice(0, 7)}`, () =>
      octokit.rest.checks.listForRef({
        owner,
        repo,
        ref: sha,
        check_name: CHECK_RUN_NAME,
        filter: "latest",
        per_page: 100,
      }),
    );
    let open: Run | null = null;
    for (const r of data.check_runs) {
      // Two PRs can share a head commit: only this preview's run (external_id) is this run's to continue.
      if (
        r.head_sha === sha &&
        r.status !== "completed" &&
        r.external_id === report.names.key &&
        (await this.ours.ownsCheckRun(r))
      ) {
        open = { id: r.id, sha, url: r.html_url ?? "" };
        break;
      }
    }
    this.found.set(sha, open);
  }

  /** Write the desired state if it differs from what GitHub has; after a transient failure, ask to try again. */
  async write(): Promise<WriteOutcome | void> {
    const desired = this.desired;
    if (!desired || desired.report.kind !== "deploy") return;
    const { report, done } = desired;
    const sha = report.ref.sha;
    const output = renderCheckRunOutput(report, { serverUrl: this.ctx.serverUrl });
    const superseded =
      report.state === "superseded" && !/superseded/i.test(output.title)
        ? { title: `Superseded: ${output.title}`.slice(0, 200) }
        : {};
    const fields = done
      ? {
          status: "completed" as const,
          conclusion: conclusionOf(report),
          completed_at: report.finishedAt ?? new Date().toISOString(),
          output: { ...output, ...superseded },
        }
      : report.state === "queued"
        ? { status: "queued" as const, output }
        : { status: "in_progress" as const, started_at: report.startedAt, output };
    const url = report.url ?? report.names.url;
    const all = {
      external_id: report.names.key,
      ...(url && /^https?:\/\//.test(url) ? { details_url: url } : {}),
      ...fields,
    };
    const key = JSON.stringify(all);
    if (this.run?.sha !== sha && !this.found.has(sha)) {
      // The listing failed: look again rather than leave the open run (e.g. the line's queued one) behind a new one.
      try {
        await this.lookUp(report);
      } catch (err) {
        this.ctx.fail("check_run", reportError("listing check runs", err), report);
        const retry = this.failures.retryAfter(err);
        if (retry) return retry;
        this.found.set(sha, null); // still unknown after the retries: a duplicate check run is better than no result
      }
    }
    if (this.run?.sha !== sha) this.run = this.found.get(sha) ?? undefined;
    if (this.run && this.sent === key) return;
    try {
      if (this.run && (await this.update(report, this.run, all))) {
        this.sent = key;
        this.failures.reset();
        return;
      }
      const { owner, repo, octokit } = this.ctx;
      const { data } = await attempt(`creating check run for ${report.names.key} at ${sha.slice(0, 7)}`, () =>
        octokit.rest.checks.create({ owner, repo, name: CHECK_RUN_NAME, head_sha: sha, ...all }),
      );
      this.run = { id: data.id, sha, url: data.html_url ?? "" };
      this.sent = key;
      this.failures.reset();
    } catch (err) {
      this.ctx.fail(
        "check_run",
        reportError(`${done ? "concluding" : "updating"} the check run for ${report.names.key}`, err),
        report,
      );
      return this.failures.retryAfter(err);
    }
  }

  /** False when the check run is gone (deleted, or not ours after all): the caller creates a new one. */
  private async update(report: RunReport, run: Run, fields: Record<string, unknown>): Promise<boolean> {
    const { owner, repo, octokit } = this.ctx;
    try {
      await octokit.rest.checks.update({ owner, repo, check_run_id: run.id, ...fields });
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw reportError(`updating check run ${run.id} for ${report.names.key}`, err);
    }
  }
}
