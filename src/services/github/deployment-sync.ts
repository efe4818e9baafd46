/**
 * The GitHub Deployment of a preview environment (`preview/<namespace>`): one per commit, created when a run of
 * that commit ends, with one status saying how it ended (success with the environment URL, or failure). A run that
 * was superseded writes nothing here: the newer run will. A redeploy that changes nothing (same commit, same
 * outcome, same URL) finds the deployment and its latest status and writes nothing. Teardown marks inactive every
 * deployment of the environment that is not inactive already. A write GitHub fails transiently (5xx, 429, secondary
 * rate limit) asks its write lane to try again with the same backoff as the check run (report-error.ts); a retried
 * teardown writes only the statuses still missing.
 */
import { redactText } from "../../logger.js";
import type { RunReport } from "../shared/run-report.js";
import { attempt, ReportError, reportError, WriteFailures } from "./report-error.js";
import type { SurfaceContext } from "./surface.js";
import type { WriteOutcome } from "./write-lanes.js";

interface Known {
  id: number;
  /** Latest status, when there is one. */
  state?: string;
  environmentUrl?: string;
}

const short = (text: string, max: number) => {
  const t = redactText(text).replace(/\s+/g, " ").trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
};

export class DeploymentSync {
  private desired: RunReport | undefined;
  /** The deployment of the desired commit: undefined not looked up, null none yet. */
  private known: Known | null | undefined;
  private retiring: { report: RunReport; deployments: Known[] } | undefined;
  /** Writes failed in a row (the backoff of the next try). */
  private readonly failures = new WriteFailures();

  constructor(
    private readonly ctx: SurfaceContext,
    private readonly logUrl: () => string | undefined,
  ) {}

  /** A finished deploy run: success or failure gets a deployment status; anything else writes nothing. */
  set(report: RunReport): void {
    if (this.desired && this.desired.ref.sha !== report.ref.sha) this.known = undefined;
    this.desired = report;
  }

  async prepare(): Promise<void> {
    const report = this.desired;
    if (!report || this.known !== undefined) return;
    const { octokit, owner, repo } = this.ctx;
    const environment = report.names.environment;
    try {
      const { data } = await attempt(
        `listing deployments of ${report.ref.sha.slice(0, 7)} to ${environment} for ${report.names.key}`,
        () => octokit.rest.repos.listDeployments({ owner, repo, sha: report.ref.sha, environment, per_page: 1 }),
      );
      this.known = data[0] ? await this.latest(data[0].id) : null;
    } catch (err) {
      this.known = null;
      this.ctx.fail("deployment", reportError("listing deployments", err), report);
    }
  }

  async write(): Promise<WriteOutcome | void> {
    const report = this.desired;
    if (!report || (report.state !== "success" && report.state !== "failure")) return;
    const url = report.url ?? report.names.url;
    const state = report.state;
    const environmentUrl = state === "success" ? url : undefined;
    if (this.known && this.known.state === state && this.known.environmentUrl === environmentUrl) return;
    try {
      const id = this.known?.id ?? (await this.create(report, url));
      this.known = { id };
      await this.status(report, id, state, {
        ...(state === "success" ? { auto_inactive: true } : {}),
        ...(environmentUrl ? { environment_url: environmentUrl } : {}),
      });
      this.known = { id, state, ...(environmentUrl ? { environmentUrl } : {}) };
      this.failures.reset();
    } catch (err) {
      this.ctx.fail("deployment", reportError(`finishing the deployment of ${report.names.key}`, err), report);
      return this.failures.retryAfter(err);
    }
  }

  /** Teardown: every deployment of the environment, with its latest status (reads only). */
  async prepareRetire(report: RunReport): Promise<void> {
    const { octokit, owner, repo } = this.ctx;
    const environment = report.names.environment;
    try {
      const all = await attempt(`listing deployments of ${environment} for ${report.names.key}`, () =>
        octokit.paginate(octokit.rest.repos.listDeployments, { owner, repo, environment, per_page: 100 }),
      );
      const deployments: Known[] = [];
      for (const d of all) deployments.push(await this.latest(d.id));
      this.retiring = { report, deployments };
    } catch (err) {
      this.retiring = undefined;
      this.ctx.fail("deployment", reportError(`marking deployments of ${environment} inactive`, err), report);
    }
  }

  /** Teardown: inactive on each deployment not inactive already; keeps going when one write fails. */
  async writeRetire(): Promise<WriteOutcome | void> {
    const job = this.retiring;
    if (!job) return;
    this.retiring = undefined;
    const errors: Error[] = [];
    const todo = job.deployments.filter((d) => d.state !== "inactive");
    const left: Known[] = [];
    for (const d of todo) {
      await this.status({ ...job.report, summary: "Preview removed" }, d.id, "inactive").catch((e: Error) => {
        errors.push(e);
        left.push(d);
      });
    }
    if (errors.length === 0) {
      this.failures.reset();
      return;
    }
    const env = job.report.names.environment;
    const err =
      errors.length === 1
        ? reportError(`marking deployments of ${env} inactive`, errors[0])
        : new ReportError(
            `marking ${errors.length} of ${todo.length} deployments of ${env} inactive for ${job.report.names.key} failed`,
            { cause: new AggregateError(errors) },
          );
    this.ctx.fail("deployment", err, job.report);
    const retry = this.failures.retryAfter(err);
    // Only the deployments still active are written again (a newer teardown's listing replaces them).
    if (retry) this.retiring = { report: job.report, deployments: left };
    return retry;
  }

  private async latest(id: number): Promise<Known> {
    const { octokit, owner, repo } = this.ctx;
    const { data } = await attempt(`reading the statuses of deployment ${id}`, () =>
      octokit.rest.repos.listDeploymentStatuses({ owner, repo, deployment_id: id, per_page: 1 }),
    );
    const s = data[0];
    return s ? { id, state: s.state, ...(s.environment_url ? { environmentUrl: s.environment_url } : {}) } : { id };
  }

  private async create(report: RunReport, url: string | undefined): Promise<number> {
    const { octokit, owner, repo } = this.ctx;
    const what = `creating the deployment of ${report.ref.sha.slice(0, 7)} to ${report.names.environment} for ${report.names.key}`;
    const { data } = await attempt(what, () =>
      octokit.rest.repos.createDeployment({
        owner,
        repo,
        ref: report.ref.sha,
        environment: report.names.environment,
        transient_environment: true,
        production_environment: false,
        auto_merge: false,
        required_contexts: [],
        description: short(`Preview of ${report.names.key}`, 140),
        payload: { key: report.names.key, namespace: report.names.namespace, ...(url ? { url } : {}) },
      }),
    );
    if (!("id" in data))
      throw new ReportError(
        `${what}: GitHub answered without a deployment (${short(String(data.message ?? ""), 200)})`,
      );
    return data.id;
  }

  private async status(
    report: RunReport,
    id: number,
    state: "success" | "failure" | "inactive",
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const { octokit, owner, repo } = this.ctx;
    const logUrl = this.logUrl();
    await attempt(`setting deployment ${id} of ${report.names.environment} to ${state} for ${report.names.key}`, () =>
      octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: id,
        state,
        description: short(report.summary, 140),
        ...(logUrl ? { log_url: logUrl } : {}),
        ...extra,
      }),
    );
  }
}
