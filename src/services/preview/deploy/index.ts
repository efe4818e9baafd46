/**
 * Deploy a preview: admit the job (admit.ts), then run DEPLOY_PIPELINE (pipeline.ts) on the PR's current head
 * commit, recording each step; finish by recording the outcome on the namespace, concluding the check run and
 * telling Slack. A superseded run stops between steps; a transient failure is reported and then handed back to the
 * queue for a retry.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { redactText } from "../../../logger.js";
import { UNPARKED, type JobControl } from "../../jobs/queue.js";
import type { PreviewJob } from "../../shared/dispatch.js";
import { isTransientError, SupersededError } from "../../shared/errors.js";
import { describeError } from "../../shared/format.js";
import { LAST_RUN_ANNOTATION, REPOSITORY_ANNOTATION, STATE_ANNOTATION } from "../../shared/labels.js";
import { encodeLastRun } from "../../shared/last-run.js";
import { previewKey, type PreviewNames, type PreviewRef } from "../../shared/preview.js";
import type { RunReport } from "../../shared/run-report.js";
import { stateAfterRun } from "../../shared/state.js";
import { announceRun, countError, effectiveTtl, newReport, type RunnerDeps } from "../context.js";
import { ownershipLabels, previewNamesFor } from "../naming.js";
import { deployedSleepFacts } from "../sleep/sleep-commands.js";
import { StepTracker } from "../steps.js";
import { admitDeploy, type Admitted } from "./admit.js";
import type { DeployContext } from "./context.js";
import { DEPLOY_PIPELINE, runPipeline } from "./pipeline.js";
import { PreflightError } from "./steps/preflight.js";
import { concludeOpenCheckRuns } from "../fleet/tell-standing.js";

export async function deployPreview(
  deps: RunnerDeps,
  job: PreviewJob,
  signal?: AbortSignal,
  control: JobControl = UNPARKED,
): Promise<RunReport | undefined> {
  const admitted = await admitDeploy(deps, job);
  await concludeLeftBehind(deps, job, admitted);
  if (!admitted) {
    await releaseIfNothingRuns(deps, job);
    return undefined;
  }
  if (!(await claimSeat(deps, job, admitted))) return undefined;
  const ctx = await startRun(deps, job, admitted, control, signal);
  const reporter = deps.github.reporterFor(admitted.octokit, job.owner, job.repo);
  const tracker = new StepTracker(ctx.report, signal, (r) => reporter.progress(r));
  tracker.plan(DEPLOY_PIPELINE.map((s) => s.name));
  await reporter.started(ctx.report);

  let retry: { error: unknown } | undefined;
  try {
    await runPipeline(DEPLOY_PIPELINE, ctx, tracker);
    ctx.report.state = "success";
    ctx.report.summary = ctx.names.url
      ? `Preview ready at ${ctx.names.url}`
      : `Preview deployed to namespace ${ctx.names.namespace} (${ctx.workloads.length} workloads ready)`;
  } catch (err) {
    tracker.skipRemaining();
    retry = recordFailure(deps, ctx, err, signal);
  } finally {
    await rm(ctx.dir, { recursive: true, force: true });
  }
  const { report } = ctx;
  report.finishedAt = new Date().toISOString();
  if (report.state !== "superseded") {
    await markNamespace(deps, ctx.names, report).catch((err: unknown) =>
      deps.logger.warn({ key: ctx.names.key, err }, "could not record the preview state on its namespace"),
    );
  }
  if (report.state === "success") Object.assign(report, await deployedSleepFacts(deps, ctx.names.namespace));
  await reporter.finished(report);
  await announceRun(deps, report);
  // A deploy that ended before its namespace existed runs nothing: its seat goes to the next in line (a superseded
  // one leaves it to the newer job of the same preview).
  if (report.state !== "superseded" && !retry) await releaseIfNothingRuns(deps, job);
  if (retry) throw retry.error;
  return report;
}

/**
 * A deploy started from the line continues the queued check run of the commit it waited with when it deploys that
 * commit. When it deploys another (the head moved while it waited, and the push that said so was lost, or refused on
 * a fork) or nothing (the reviewed commit is no longer the head, the PR closed), that check run is concluded here:
 * nothing else knows of it any more (it left the line; a teardown concludes only the head's), so it would stay
 * `queued` for good.
 */
async function concludeLeftBehind(deps: RunnerDeps, job: PreviewJob, admitted: Admitted | undefined): Promise<void> {
  const queued = job.fromLine;
  if (!queued || admitted?.pull.sha === queued.ref.sha) return;
  const key = previewKey(job);
  try {
    const octokit = admitted?.octokit ?? (await deps.github.octokitFor(job.installationId));
    await concludeOpenCheckRuns(octokit, queued, admitted ? "superseded" : "nothing to deploy", queued.since);
  } catch (err) {
    deps.logger.warn({ err, key }, describeError(err));
  }
}

/** What the preview will be called and shows, before anything ran. */
function factsOf(job: PreviewJob, { pull, config }: Admitted): { ref: PreviewRef; names: PreviewNames } {
  const ref: PreviewRef = {
    owner: job.owner,
    repo: job.repo,
    number: job.number,
    branch: pull.branch,
    sha: pull.sha,
    fork: pull.fork,
  };
  return { ref, names: previewNamesFor(ref, config) };
}

/** A seat for this preview (it keeps the one it holds); false when it waits in line (the fleet told it so). */
async function claimSeat(deps: RunnerDeps, job: PreviewJob, admitted: Admitted): Promise<boolean> {
  if (!deps.fleet) return true;
  const { ref, names } = factsOf(job, admitted);
  return deps.fleet.claim({
    key: names.key,
    repo: `${job.owner}/${job.repo}`.toLowerCase(),
    author: admitted.pull.author.toLowerCase(),
    limits: admitted.config.caps,
    job,
    facts: {
      ref,
      names,
      trigger: job.trigger,
      ...(admitted.config.slack ? { slackChannel: admitted.config.slack.channel } : {}),
    },
  });
}

/** The preview holds a seat but has no namespace (its deploy stopped before one, or was not let through): release. */
async function releaseIfNothingRuns(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  const key = previewKey(job);
  if (!deps.fleet || !(await deps.fleet.holds(key))) return;
  const ours = await deps.cluster.listNamespaces(ownershipLabels(job.owner, job.repo, job.number));
  if (ours.some((ns) => ns.annotations[REPOSITORY_ANNOTATION] === `${job.owner}/${job.repo}`)) return;
  deps.logger.info({ key }, `${key} holds a seat but runs nothing: released`);
  await deps.fleet.release(key);
}

/** The run's names, report (URL, links, expiry) and scratch checkout. */
async function startRun(
  deps: RunnerDeps,
  job: PreviewJob,
  admitted: Admitted,
  control: JobControl,
  signal?: AbortSignal,
): Promise<DeployContext> {
  const { octokit, pull, config } = admitted;
  const { ref, names } = factsOf(job, admitted);
  const report = newReport("deploy", ref, names, job.trigger);
  report.url = names.url;
  const pageUrl = deps.page?.previewUrl(ref);
  if (pageUrl) report.pageUrl = pageUrl;
  if (config.slack) report.slackChannel = config.slack.channel;
  report.links = names.url
    ? config.links.map((l) => ({ title: l.title, url: new URL(l.path.replace(/^\//, ""), names.url).toString() }))
    : [];
  const ttlMs = effectiveTtl(deps, job.ttlMs ?? config.ttl);
  if (ttlMs) report.expiresAt = new Date(Date.now() + ttlMs).toISOString();
  const dir = await mkdtemp(join(deps.workDir, "src-"));
  return {
    deps,
    job,
    octokit,
    pull,
    config,
    ref,
    names,
    report,
    ...(signal ? { signal } : {}),
    park: (wait) => control.park(wait),
    dir,
    objects: [],
    origins: new Map(),
    ownObjects: [],
    pinned: [],
    applied: [],
    workloads: [],
    access: {
      mode: config.access ?? (pull.private ? "github" : "public"),
      nonce: randomBytes(18).toString("base64url"),
      hosts: [],
      grants: [],
    },
  };
}

/** Record why the run ended early; returns the error when the queue should retry the job. */
function recordFailure(
  deps: RunnerDeps,
  { report, job }: DeployContext,
  err: unknown,
  signal?: AbortSignal,
): { error: unknown } | undefined {
  if (err instanceof SupersededError || signal?.aborted) {
    // Whatever step noticed it (a roll-out wait cut short, a step boundary), a newer job took over.
    report.state = "superseded";
    report.summary = `Superseded: ${signal?.reason instanceof Error ? signal.reason.message : err instanceof Error ? err.message : "a newer job took over"}`;
    return undefined;
  }
  countError(deps, err);
  report.state = "failure";
  report.error = redactText(describeError(err));
  if (err instanceof PreflightError) report.refusals = err.problems.map((p) => redactText(p));
  report.summary = `Deploy failed: ${report.error.split("\n")[0]!.slice(0, 200)}`;
  deps.logger.warn({ key: previewKey(job), err }, `deploy of ${previewKey(job)} failed`);
  // A Kubernetes/GitHub 5xx, 429 or timeout: report it, then hand the job back so the queue retries it.
  if (!isTransientError(err)) return undefined;
  report.summary += " (a transient error: retrying)";
  return { error: err };
}

async function markNamespace(deps: RunnerDeps, names: PreviewNames, report: RunReport): Promise<void> {
  const exists = (await deps.cluster.listNamespaces({ ...names.labels })).some((ns) => ns.name === names.namespace);
  if (!exists) return;
  await deps.cluster.annotateNamespace(names.namespace, {
    [STATE_ANNOTATION]: stateAfterRun(report),
    [LAST_RUN_ANNOTATION]: encodeLastRun(report),
  });
}
