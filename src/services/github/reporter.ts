/**
 * The GitHub side of reporting a run: one check run `preview` per head SHA (check-run-sync.ts), one GitHub
 * Deployment per commit of the PR environment (deployment-sync.ts), one sticky PR comment edited in place
 * (sticky-comment-sync.ts).
 *
 * Write budget (GitHub paces an installation's writes, ≈ 1 s apart, ≈ 3 s for comments): a healthy deploy of a new
 * commit writes at most 5 times — the check run created in progress and completed, the deployment created and its one
 * final status, the sticky comment edited once (only if its text changed). A redeploy that changes nothing writes
 * the new check run's two writes and nothing else. Step progress goes into the check run in batches: at most one
 * write per `progressIntervalMs`, and none once the run has finished.
 *
 * Writes go through WriteLanes (one serial lane per installation, check runs first, pending writes of the same
 * surface merged). With `tail: "background"` (the server's wiring), `finished()` resolves once the check run is
 * concluded and the deployment and comment writes drain behind it; the default `"await"` resolves when all are done.
 *
 * Failure policy: the Reporter never throws. Every failed GitHub read or write is wrapped with what was being done,
 * logged at warn, counted through `onFailure` (the server's metrics), and kept in `failures`. A write of any surface
 * (check run, deployment status, sticky comment) that failed transiently is tried again in its lane with the same
 * backoff (report-error.ts `retryDelayMs`); `finished()` waits for the check run's.
 */
import type { ProbotOctokit } from "probot";
import { type Logger } from "../../logger.js";
import type { Reporter, RunReport } from "../shared/run-report.js";
import { OurApp, type AppIdentity } from "./app-identity.js";
import { CheckRunSync } from "./check-run-sync.js";
import { DeploymentSync } from "./deployment-sync.js";
import { httpStatus, type ReportError } from "./report-error.js";
import { StickyCommentSync } from "./sticky-comment-sync.js";
import type { GitHubSurface, SurfaceContext } from "./surface.js";
import { WRITE_PRIORITY, WriteLanes, type WriteOutcome } from "./write-lanes.js";

export { ReportError } from "./report-error.js";
export type { GitHubSurface } from "./surface.js";

/** Default batching of step progress into the check run. */
const PROGRESS_INTERVAL_MS = 15_000;

export interface ReporterOptions {
  /** The installation-scoped Octokit (Probot's `context.octokit`). */
  octokit: ProbotOctokit;
  owner: string;
  repo: string;
  /** Which check runs and comments are ours (see app-identity.ts). */
  app?: AppIdentity;
  /** Shorthand for `app: { slug }`. */
  appSlug?: string;
  logger: Logger;
  /** Web URL for commit links; derived from the Octokit's API base URL when absent. */
  serverUrl?: string;
  /** The process's write lanes (shared by every run); a private one when absent. */
  lanes?: WriteLanes;
  /** `background`: `finished()` waits for the check run only. Default `await`: for everything. */
  tail?: "await" | "background";
  progressIntervalMs?: number;
  /** Told about every failed GitHub call (metrics). Must not throw. */
  onFailure?(surface: GitHubSurface, err: ReportError): void;
}

export interface GitHubReporter extends Reporter {
  /** Errors swallowed (and logged) so far, oldest first. */
  readonly failures: readonly Error[];
  /** html_url of the check run, once created or found. */
  readonly checkRunUrl: string | undefined;
  /** Resolves when every write this reporter asked for is done. */
  flush(): Promise<void>;
}

/** GitHub's web URL (commit links) from the Octokit's API base URL (github.com or a GHES host). */
export function webUrlOf(octokit: ProbotOctokit): string {
  const api = String(octokit.request.endpoint.DEFAULTS.baseUrl ?? "https://api.github.com").replace(/\/+$/, "");
  if (api === "https://api.github.com") return "https://github.com";
  return api.replace(/\/api\/v3$/, "");
}

export function createReporter(opts: ReporterOptions): GitHubReporter {
  return new PreviewReporter(opts);
}

class PreviewReporter implements GitHubReporter {
  private readonly log: Logger;
  private readonly lanes: WriteLanes;
  private readonly errors: Error[] = [];
  private readonly checkRun: CheckRunSync;
  private readonly deployment: DeploymentSync;
  private readonly comment: StickyCommentSync;
  private readonly inFlight = new Set<Promise<void>>();
  /** Lane key of this run's check run: two runs of one PR never merge their check-run writes. */
  private readonly runId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  private progressTimer: NodeJS.Timeout | undefined;
  private lastCheckRunWrite = 0;
  private done = false;

  constructor(private readonly opts: ReporterOptions) {
    this.log = opts.logger.child({ component: "reporter", repository: `${opts.owner}/${opts.repo}` });
    this.lanes = opts.lanes ?? new WriteLanes(this.log);
    const ctx: SurfaceContext = {
      octokit: opts.octokit,
      owner: opts.owner,
      repo: opts.repo,
      serverUrl: opts.serverUrl ?? webUrlOf(opts.octokit),
      fail: (surface, err, report) => this.fail(surface, err, report),
    };
    const ours = new OurApp(opts.app ?? (opts.appSlug ? { slug: opts.appSlug } : {}), this.log);
    this.checkRun = new CheckRunSync(ctx, ours);
    this.deployment = new DeploymentSync(ctx, () => this.checkRun.url);
    this.comment = new StickyCommentSync(ctx, ours, this.lanes.stickies);
  }

  get failures(): readonly Error[] {
    return [...this.errors];
  }

  get checkRunUrl(): string | undefined {
    return this.checkRun.url;
  }

  async started(report: RunReport): Promise<void> {
    if (report.kind !== "deploy") return;
    this.checkRun.set(report, false);
    const written = this.syncCheckRun(WRITE_PRIORITY.checkRun);
    if (this.opts.tail !== "background") await written;
  }

  async progress(report: RunReport): Promise<void> {
    if (report.kind !== "deploy" || this.done) return;
    this.checkRun.set(report, false);
    if (this.progressTimer) return; // a batch is already due: it writes the latest report
    const interval = this.opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    const wait = Math.max(0, this.lastCheckRunWrite + interval - Date.now());
    this.progressTimer = setTimeout(() => {
      this.progressTimer = undefined;
      // A timer has no one to wait for it; the write lane never rejects (failures are logged and counted).
      if (!this.done) void this.syncCheckRun(WRITE_PRIORITY.progress);
    }, wait);
    this.progressTimer.unref();
  }

  async finished(report: RunReport): Promise<void> {
    this.done = true;
    this.cancelProgress();
    if (report.kind !== "deploy") return;
    this.checkRun.set(report, true);
    const checkRun = this.syncCheckRun(WRITE_PRIORITY.checkRun);
    const rest: Array<Promise<void>> = [];
    if (report.state === "success" || report.state === "failure") {
      this.deployment.set(report);
      rest.push(
        this.track({
          key: `deployment ${report.names.key}`,
          priority: WRITE_PRIORITY.deployment,
          prepare: () => this.deployment.prepare(),
          write: () => this.deployment.write(),
        }),
      );
    }
    // A superseded run leaves the comment to the run that superseded it.
    if (report.state !== "superseded" && report.state !== "cancelled") rest.push(this.syncComment(report));
    await checkRun;
    if (this.opts.tail !== "background") await Promise.all(rest);
  }

  async tornDown(report: RunReport): Promise<void> {
    this.cancelProgress();
    const retired = this.track({
      key: `deployment ${report.names.key}`,
      priority: WRITE_PRIORITY.deployment,
      prepare: () => this.deployment.prepareRetire(report),
      write: () => this.deployment.writeRetire(),
    });
    const comment = this.syncComment(report);
    await retired;
    if (this.opts.tail !== "background") await comment;
  }

  async queued(report: RunReport): Promise<void> {
    if (report.kind !== "deploy") return;
    this.checkRun.set(report, false);
    const checkRun = this.syncCheckRun(WRITE_PRIORITY.checkRun);
    const comment = this.syncComment(report);
    await checkRun;
    if (this.opts.tail !== "background") await comment;
  }

  async stateChanged(report: RunReport): Promise<void> {
    const comment = this.syncComment(report);
    if (this.opts.tail !== "background") await comment;
  }

  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private syncCheckRun(priority: number): Promise<void> {
    return this.track({
      key: `check-run ${this.runId}`,
      priority,
      prepare: () => this.checkRun.prepare(),
      write: async () => {
        this.lastCheckRunWrite = Date.now();
        return this.checkRun.write();
      },
    });
  }

  private syncComment(report: RunReport): Promise<void> {
    this.comment.set(report);
    return this.track({
      key: `comment ${report.names.key}`,
      priority: WRITE_PRIORITY.comment,
      prepare: () => this.comment.prepare(),
      write: () => this.comment.write(),
    });
  }

  private track(req: {
    key: string;
    priority: number;
    prepare: () => Promise<void>;
    write: () => Promise<WriteOutcome | void>;
  }): Promise<void> {
    const p = this.lanes.request({ lane: this.opts.owner, ...req });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)); // bookkeeping only: the caller awaits `p`, which never rejects
    return p;
  }

  private cancelProgress(): void {
    clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
  }

  private fail(surface: GitHubSurface, err: ReportError, report: RunReport): void {
    this.errors.push(err);
    this.log.warn(
      { err, key: report.names.key, sha: report.ref.sha, surface, status: httpStatus(err.cause) },
      err.message,
    );
    try {
      this.opts.onFailure?.(surface, err);
    } catch {
      // metrics must never break reporting
    }
  }
}
