/**
 * The GitHub side of reporting a run: one check run `preview` per head SHA, one GitHub Deployment per PR environment
 * (per SHA), and one sticky PR comment found by a hidden marker and edited in place.
 *
 * Failure policy: the Reporter methods never throw. Reporting must not break a deploy, so each of the three
 * targets is written independently; a failure is wrapped with what was being done (`updating check run 123 for
 * acme/web#42: …`, `{ cause }`), logged at warn, and kept in `failures` for the runner to count or show.
 *
 * Writes are serialized (in call order) and `progress` calls coalesce: while one progress write is queued, a newer
 * report replaces it, and an unchanged output is not sent again — Probot's Octokit spaces writes ~1 s apart.
 *
 * Longer than 300 lines: the three GitHub surfaces (check run, deployment, sticky comment) are updated together on
 * each run event, with the same "only ours" guards; one file keeps their ordering readable.
 */
import type { ProbotOctokit } from "probot";
import { logger as rootLogger, redactText, type Logger } from "../../logger.js";
import { GITHUB_TEXT_LIMIT, renderCheckRunOutput, renderComment, stickyMarker, type CheckRunOutput } from "./report-markdown.js";
import type { Reporter, RunReport } from "../shared/run-report.js";

export const CHECK_RUN_NAME = "preview";

export interface ReporterOptions {
  /** The installation-scoped Octokit (Probot's `context.octokit`). */
  octokit: ProbotOctokit;
  owner: string;
  repo: string;
  /** The GitHub App's slug: the sticky comment must be written by `<slug>[bot]`, and only our check runs are reused. */
  appSlug?: string;
  logger?: Logger;
  /** Web URL for commit links; derived from the Octokit's API base URL when absent. */
  serverUrl?: string;
}

export interface GitHubReporter extends Reporter {
  /** Errors swallowed (and logged) so far, oldest first. */
  readonly failures: readonly Error[];
  /** html_url of the check run, once created or found. */
  readonly checkRunUrl: string | undefined;
}

/** An error that already says what was being done. */
export class ReportError extends Error {
  override name = "ReportError";
}

function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === "number" ? s : undefined;
}

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ReportError) throw err;
    throw new ReportError(`${what}: ${redactText(err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
}

function webUrlOf(octokit: ProbotOctokit): string {
  const api = String(octokit.request.endpoint.DEFAULTS.baseUrl ?? "https://api.github.com").replace(/\/+$/, "");
  if (api === "https://api.github.com") return "https://github.com";
  return api.replace(/\/api\/v3$/, "");
}

const short = (text: string, max: number) => {
  const t = redactText(text).replace(/\s+/g, " ").trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
};

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
    default:
      return "neutral";
  }
}

export function createReporter(opts: ReporterOptions): GitHubReporter {
  const { octokit, owner, repo, appSlug } = opts;
  const log = (opts.logger ?? rootLogger).child({ component: "reporter", repository: `${owner}/${repo}` });
  const serverUrl = opts.serverUrl ?? webUrlOf(octokit);
  const failures: Error[] = [];
  let checkRun: { id: number; sha: string; url: string } | undefined;
  let deployment: { id: number; sha: string; environment: string } | undefined;
  let commentId: number | undefined;
  let lastCommentBody: string | undefined;
  let lastProgressOutput: string | undefined;
  let queue: Promise<void> = Promise.resolve();
  let pendingProgress: { report: RunReport; done: Promise<void> } | undefined;

  const enqueue = (fn: () => Promise<void>): Promise<void> => {
    queue = queue.then(fn).catch((err: unknown) => {
      // Every step is guarded; reaching here is a bug in the reporter, still never the run's problem.
      failures.push(err instanceof Error ? err : new Error(String(err)));
      log.error({ err }, "reporter: unexpected error");
    });
    return queue;
  };

  /** Run one reporting step; log and keep its error instead of throwing. */
  async function guard(what: string, report: RunReport, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const e = err instanceof ReportError ? err : new ReportError(`${what} for ${report.names.key}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      failures.push(e);
      log.warn({ err: e, key: report.names.key, sha: report.ref.sha, status: httpStatus(e.cause) }, e.message);
    }
  }

  // ---- check run -------------------------------------------------------------------------------------------

  async function findCheckRun(report: RunReport): Promise<{ id: number; url: string; completed: boolean } | undefined> {
    const { data } = await attempt(`listing check runs for ${report.names.key} at ${report.ref.sha.slice(0, 7)}`, () =>
      octokit.rest.checks.listForRef({ owner, repo, ref: report.ref.sha, check_name: CHECK_RUN_NAME, filter: "latest", per_page: 100 }),
    );
    const ours = data.check_runs.filter((r) => r.head_sha === report.ref.sha && (!appSlug || r.app?.slug === appSlug));
    const open = ours.find((r) => r.status !== "completed");
    const run = open ?? ours[0];
    return run ? { id: run.id, url: run.html_url ?? "", completed: run.status === "completed" } : undefined;
  }

  function details(report: RunReport): { details_url?: string } {
    const url = report.url ?? report.names.url;
    return url && /^https?:\/\//.test(url) ? { details_url: url } : {};
  }

  function output(report: RunReport): CheckRunOutput {
    return renderCheckRunOutput(report, { serverUrl, ...(checkRun ? { checkRunUrl: checkRun.url } : {}) });
  }

  async function createCheckRun(report: RunReport, fields: Record<string, unknown>): Promise<void> {
    const { data } = await attempt(`creating check run for ${report.names.key} at ${report.ref.sha.slice(0, 7)}`, () =>
      octokit.rest.checks.create({ owner, repo, name: CHECK_RUN_NAME, head_sha: report.ref.sha, external_id: report.names.key, ...details(report), ...fields }),
    );
    checkRun = { id: data.id, sha: report.ref.sha, url: data.html_url ?? "" };
  }

  async function updateCheckRun(report: RunReport, id: number, fields: Record<string, unknown>): Promise<boolean> {
    try {
      await octokit.rest.checks.update({ owner, repo, check_run_id: id, external_id: report.names.key, ...details(report), ...fields });
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false; // deleted (or not ours): create a new one
      throw new ReportError(`updating check run ${id} for ${report.names.key}: ${redactText(err instanceof Error ? err.message : String(err))}`, { cause: err });
    }
  }

  /** Write the check run for this SHA: reuse ours when it is still open, otherwise create one. */
  async function writeCheckRun(report: RunReport, fields: Record<string, unknown>, reuseCompleted: boolean): Promise<void> {
    if (!checkRun || checkRun.sha !== report.ref.sha) {
      checkRun = undefined;
      const found = await findCheckRun(report);
      // A completed check run cannot go back to in_progress; a redeploy of the same commit gets a new one.
      if (found && (!found.completed || reuseCompleted)) checkRun = { id: found.id, sha: report.ref.sha, url: found.url };
    }
    if (checkRun && (await updateCheckRun(report, checkRun.id, fields))) return;
    await createCheckRun(report, fields);
  }

  // ---- deployment ------------------------------------------------------------------------------------------

  async function ensureDeployment(report: RunReport): Promise<number> {
    const environment = report.names.environment;
    if (deployment && deployment.sha === report.ref.sha && deployment.environment === environment) return deployment.id;
    const what = `deployment of ${report.ref.sha.slice(0, 7)} to ${environment} for ${report.names.key}`;
    const { data: existing } = await attempt(`listing ${what}`, () =>
      octokit.rest.repos.listDeployments({ owner, repo, sha: report.ref.sha, environment, per_page: 1 }),
    );
    let id = existing[0]?.id;
    if (id === undefined) {
      const { data } = await attempt(`creating ${what}`, () =>
        octokit.rest.repos.createDeployment({
          owner,
          repo,
          ref: report.ref.sha,
          environment,
          transient_environment: true,
          production_environment: false,
          auto_merge: false,
          required_contexts: [],
          description: short(`Preview of ${report.names.key}`, 140),
          payload: { key: report.names.key, namespace: report.names.namespace },
        }),
      );
      if (!("id" in data)) throw new ReportError(`creating ${what}: GitHub answered without a deployment (${short(String(data.message ?? ""), 200)})`);
      id = data.id;
    }
    deployment = { id, sha: report.ref.sha, environment };
    return id;
  }

  type DeploymentState = "in_progress" | "success" | "failure" | "inactive";

  async function deploymentStatus(report: RunReport, id: number, state: DeploymentState, extra: Record<string, unknown> = {}): Promise<void> {
    await attempt(`setting deployment ${id} of ${report.names.environment} to ${state} for ${report.names.key}`, () =>
      octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: id,
        state,
        description: short(report.summary, 140),
        ...(checkRun?.url ? { log_url: checkRun.url } : {}),
        ...extra,
      }),
    );
  }

  // ---- sticky comment --------------------------------------------------------------------------------------

  async function findComment(report: RunReport): Promise<number | undefined> {
    const marker = stickyMarker(report.names.key);
    const bot = appSlug ? `${appSlug}[bot]` : undefined;
    return attempt(`listing comments of ${report.names.key}`, async () => {
      for await (const { data } of octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: report.ref.number, per_page: 100 })) {
        // Only a bot's comment counts: a person quoting the marker must not take the sticky comment over.
        const found = data.find((c) => c.body?.includes(marker) && c.user?.type === "Bot" && (!bot || c.user.login === bot));
        if (found) return found.id;
      }
      return undefined;
    });
  }

  async function writeComment(report: RunReport, rendered: RunReport = report): Promise<void> {
    const body = renderComment(rendered, { serverUrl, ...(checkRun?.url ? { checkRunUrl: checkRun.url } : {}) }).slice(0, GITHUB_TEXT_LIMIT);
    if (body === lastCommentBody) return;
    commentId ??= await findComment(report);
    if (commentId !== undefined) {
      const id = commentId;
      try {
        await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body });
        lastCommentBody = body;
        return;
      } catch (err) {
        if (httpStatus(err) !== 404) {
          throw new ReportError(`updating comment ${id} on ${report.names.key}: ${redactText(err instanceof Error ? err.message : String(err))}`, { cause: err });
        }
        commentId = undefined; // someone deleted it: post a new one
      }
    }
    const { data } = await attempt(`creating the preview comment on ${report.names.key}`, () =>
      octokit.rest.issues.createComment({ owner, repo, issue_number: report.ref.number, body }),
    );
    commentId = data.id;
    lastCommentBody = body;
  }

  // ---- the Reporter ----------------------------------------------------------------------------------------

  const reporter: GitHubReporter = {
    get failures() {
      return [...failures];
    },
    get checkRunUrl() {
      return checkRun?.url || undefined;
    },

    started(report) {
      return enqueue(async () => {
        if (report.kind === "deploy") {
          await guard("starting the check run", report, async () => {
            const out = output(report);
            await writeCheckRun(report, { status: "in_progress", started_at: report.startedAt, output: out }, false);
            lastProgressOutput = JSON.stringify(out);
          });
          await guard("starting the deployment", report, async () => {
            await deploymentStatus(report, await ensureDeployment(report), "in_progress");
          });
        }
        await guard("updating the preview comment", report, () => writeComment(report));
      });
    },

    progress(report) {
      if (pendingProgress) {
        pendingProgress.report = report;
        return pendingProgress.done;
      }
      const slot: { report: RunReport; done: Promise<void> } = { report, done: Promise.resolve() };
      pendingProgress = slot;
      slot.done = enqueue(async () => {
        pendingProgress = undefined;
        const latest = slot.report;
        if (latest.kind !== "deploy" || !checkRun || checkRun.sha !== latest.ref.sha) return;
        const out = output(latest);
        const key = JSON.stringify(out);
        if (key === lastProgressOutput) return;
        await guard(`updating check run ${checkRun.id}`, latest, async () => {
          const id = checkRun!.id;
          if (!(await updateCheckRun(latest, id, { status: "in_progress", output: out }))) return;
          lastProgressOutput = key;
        });
      });
      return slot.done;
    },

    finished(report) {
      return enqueue(async () => {
        if (report.kind === "deploy") {
          await guard("concluding the check run", report, async () => {
            const out = output(report);
            const superseded = report.state === "superseded" && !/superseded/i.test(out.title) ? { title: `Superseded: ${out.title}`.slice(0, 200) } : {};
            await writeCheckRun(
              report,
              { status: "completed", conclusion: conclusionOf(report), completed_at: report.finishedAt ?? new Date().toISOString(), output: { ...out, ...superseded } },
              false,
            );
          });
          await guard("finishing the deployment", report, async () => {
            const id = await ensureDeployment(report);
            const url = report.url ?? report.names.url;
            if (report.state === "success") {
              await deploymentStatus(report, id, "success", { auto_inactive: true, ...(url ? { environment_url: url } : {}) });
            } else if (report.state === "failure") {
              await deploymentStatus(report, id, "failure");
            } else {
              await deploymentStatus(report, id, "inactive");
            }
          });
        }
        await guard("updating the preview comment", report, () => writeComment(report));
      });
    },

    tornDown(report) {
      return enqueue(async () => {
        const environment = report.names.environment;
        await guard(`marking deployments of ${environment} inactive`, report, async () => {
          const all = await attempt(`listing deployments of ${environment} for ${report.names.key}`, () =>
            octokit.paginate(octokit.rest.repos.listDeployments, { owner, repo, environment, per_page: 100 }),
          );
          // Cleanup keeps going: every deployment gets its status even if one write fails.
          const errors: Error[] = [];
          for (const d of all) {
            await deploymentStatus({ ...report, summary: "Preview removed" }, d.id, "inactive").catch((e: Error) => errors.push(e));
          }
          if (errors.length === 1) throw errors[0]!;
          if (errors.length > 1) throw new ReportError(`marking ${errors.length} of ${all.length} deployments of ${environment} inactive for ${report.names.key} failed`, { cause: new AggregateError(errors) });
        });
        await guard("updating the preview comment", report, () => writeComment(report, { ...report, kind: "destroy" }));
      });
    },
  };
  return reporter;
}
