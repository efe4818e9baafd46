/**
 * Whether a deploy job should deploy at all, decided on the PR's state when the job runs: the PR is open, its head is
 * the commit the job was pinned to (a fork PR's reviewed commit, `/preview deploy <sha>`: a retry or a later run
 * never moves it), the repository is enrolled with a valid config (from its default branch; a PR that edits the
 * config also gets a `preview / config` check on its own version), the event is one the config reacts to, and the
 * trigger policy says yes (`trigger.afterChecks` read on the head commit for webhooks and sweeps alike). Returns what
 * the pipeline needs, or undefined (with the reason logged, and said where it helps: the PR, or Slack).
 *
 * A fork PR never gets data from a backup target (`database.seedFrom`) unless the bot allows it (SEED_FORK_PREVIEWS):
 * the Database step then creates an empty database and says why.
 */
import type { PreviewConfig } from "../../../config.js";
import { CONFIG_PATH } from "../../../config.js";
import { reportConfigErrors, reportConfigOk } from "../../github/config-check.js";
import { getPull, headChecks, loadRepoConfig, pullTouches, type Octokit, type PullFacts } from "../../github/reads.js";
import type { PreviewJob } from "../../shared/dispatch.js";
import { previewKey } from "../../shared/preview.js";
import { replyOnPull, type RunnerDeps } from "../context.js";
import { decideTrigger } from "../triggers.js";

export interface Admitted {
  octokit: Octokit;
  pull: PullFacts;
  config: PreviewConfig;
}

export async function admitDeploy(deps: RunnerDeps, job: PreviewJob): Promise<Admitted | undefined> {
  const log = deps.logger;
  const key = previewKey(job);
  const octokit = await deps.github.octokitFor(job.installationId);
  const pull = await getPull(octokit, job.owner, job.repo, job.number);
  if (pull.state !== "open") {
    log.info({ key }, `${key} is closed: nothing to deploy`);
    if (job.source === "comment" || job.source === "slack")
      await replyOnPull(deps, job, "This pull request is closed, so there is nothing to deploy.");
    return undefined;
  }
  if (!(await isReviewedHead(deps, job, pull))) return undefined;
  const config = await enrolledConfig(deps, octokit, job, pull);
  if (!config) return undefined;
  if (job.labeled !== undefined && (config.trigger.on !== "label" || job.labeled !== config.trigger.label)) {
    log.debug({ key }, `label "${job.labeled}" is not the trigger label: nothing to do`);
    return undefined;
  }
  if (job.checkName !== undefined && !config.trigger.afterChecks.includes(job.checkName)) {
    log.debug({ key }, `"${job.checkName}" is not in trigger.afterChecks: nothing to do`);
    return undefined;
  }
  if (job.source === "visitor") return undefined; // a visitor at the wake door only ever wakes
  const automatic = job.source === "webhook" || job.source === "sweeper";
  const checks = await headChecks(octokit, job.owner, job.repo, pull.sha, automatic ? config.trigger.afterChecks : []);
  const decision = decideTrigger(config, {
    source: job.source,
    action: job.action === "redeploy" ? "redeploy" : "deploy",
    fork: pull.fork,
    draft: pull.draft,
    labels: pull.labels,
    checks,
  });
  if (!decision.deploy) {
    log.info({ key, sha: pull.sha }, `not deploying ${key}: ${decision.reason}`);
    // Say so once, when a fork PR opens, so its author is not left wondering.
    if (pull.fork && job.event === "opened") {
      await replyOnPull(
        deps,
        job,
        `No preview was deployed automatically: ${decision.reason}. A maintainer can comment \`/preview deploy\` after reviewing the changes.`,
      );
    }
    return undefined;
  }
  return { octokit, pull, config };
}

/** A pinned job deploys its commit or nothing; a person's deploy of a fork PR must be pinned (the doors pin it). */
async function isReviewedHead(deps: RunnerDeps, job: PreviewJob, pull: PullFacts): Promise<boolean> {
  const key = previewKey(job);
  const manual = job.source === "comment" || job.source === "slack";
  if (job.sha !== undefined && job.sha !== pull.sha) {
    deps.logger.info(
      { key, pinned: job.sha, head: pull.sha },
      `not deploying ${key}: pinned to ${job.sha.slice(0, 7)}, the head is ${pull.sha.slice(0, 7)}`,
    );
    await replyOnPull(
      deps,
      job,
      `Nothing was deployed: the PR moved to \`${pull.sha.slice(0, 7)}\`; review and deploy again.`,
    );
    return false;
  }
  if (pull.fork && manual && job.sha === undefined) {
    deps.logger.warn({ key }, `not deploying ${key}: a fork PR's deploy without a reviewed commit`);
    await replyOnPull(
      deps,
      job,
      `Nothing was deployed: this pull request comes from a fork, and the request named no reviewed commit. Ask again with the commit: \`/preview deploy ${pull.sha.slice(0, 7)}\`.`,
    );
    return false;
  }
  return true;
}

/**
 * The default branch's config (a PR cannot change the rules it is judged by), or undefined when not enrolled or
 * invalid.
 */
async function enrolledConfig(
  deps: RunnerDeps,
  octokit: Octokit,
  job: PreviewJob,
  pull: PullFacts,
): Promise<PreviewConfig | undefined> {
  const config = await loadRepoConfig(octokit, job.owner, job.repo);
  if (await pullTouches(octokit, job.owner, job.repo, job.number, CONFIG_PATH).catch(() => false)) {
    const proposed = await loadRepoConfig(octokit, job.owner, job.repo, pull.sha);
    if (proposed && !proposed.ok)
      await reportConfigErrors({
        octokit,
        owner: job.owner,
        repo: job.repo,
        sha: pull.sha,
        errors: proposed.errors,
        path: CONFIG_PATH,
        text: proposed.text,
      });
    else if (proposed)
      await reportConfigOk({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, path: CONFIG_PATH });
  }
  if (!config) {
    deps.logger.debug(
      { key: previewKey(job) },
      `${job.owner}/${job.repo} has no ${CONFIG_PATH} on its default branch: not enrolled`,
    );
    return undefined;
  }
  if (!config.ok) {
    await reportConfigErrors({
      octokit,
      owner: job.owner,
      repo: job.repo,
      sha: pull.sha,
      errors: config.errors,
      path: CONFIG_PATH,
      text: config.text,
    });
    return undefined;
  }
  return config.config;
}
