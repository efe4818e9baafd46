/**
 * The second half of the PR-comment door, run as a job (kind `comment`) right after the webhook was acknowledged:
 * everything that needs GitHub happens here, not on the request. Help and parser replies are posted; a command needs
 * the repository to be enrolled and the commenter to pass `authz` (the repository's `permissions` policy, the fork
 * rule); then the eyes reaction says it was accepted and the preview job is dispatched. A refusal is a reply. The job
 * is deduplicated by the delivery id, so a redelivered comment gets no second reply.
 *
 * The reviewed commit: a maintainer's `/preview deploy` on a fork PR deploys the head the comment was written
 * for, and only that. The job refuses when the head arrived after the comment (by the head log of `pull_request`
 * events and the head commit's check suites, both GitHub's clock) or when nothing dates it; `/preview deploy
 * <sha>` pins a commit explicitly. The dispatched job carries the SHA, so its retries cannot move either.
 */
import { COMMENT_HELP } from "../intake/help.js";
import type { PreviewCommand } from "../intake/parse.js";
import { redactText, type Logger } from "../logger.js";
import { createAuthorizer, type AuthzAction, type PermissionClient } from "../services/github/authz.js";
import type { HeadLog } from "../services/github/head-log.js";
import { getPull, headArrivedAt, loadRepoConfig, type Octokit, type PullFacts } from "../services/github/reads.js";
import type { Dispatcher, PreviewAction } from "../services/shared/dispatch.js";
import { describeError } from "../services/shared/errors.js";
import { previewKey } from "../services/shared/preview.js";

export const COMMENT_JOB = "comment";

const DISPATCHED: ReadonlySet<string> = new Set<PreviewAction>([
  "deploy",
  "redeploy",
  "destroy",
  "status",
  "extend",
  "backup",
  "restore",
]);

/** What the door hands the job: the comment's facts and its parsed text (never the raw body). */
export interface CommentJob {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  actor: string;
  commentId: number;
  /** When the comment was written (GitHub's clock). */
  commentedAt: string;
  parsed: { type: "reply"; text: string } | { type: "command"; command: PreviewCommand };
  deliveryId: string;
}

/** Comment jobs of one PR run one at a time, in order, beside (not behind) its preview job. */
export function commentJobKey(job: { owner: string; repo: string; number: number }): string {
  return `${previewKey(job)} comments`;
}

export interface CommentJobOptions {
  octokitFor(installationId: number): Promise<Octokit>;
  dispatcher: Dispatcher;
  heads: HeadLog;
  logger: Logger;
}

interface Turn {
  job: CommentJob;
  octokit: Octokit;
  reply(text: string): Promise<void>;
}

export function createCommentJob(opts: CommentJobOptions): (job: CommentJob) => Promise<void> {
  const log = opts.logger.child({ component: "comments" });
  return async (job) => {
    const octokit = await opts.octokitFor(job.installationId);
    const reply = async (text: string) => {
      await octokit.rest.issues.createComment({
        owner: job.owner,
        repo: job.repo,
        issue_number: job.number,
        body: redactText(`@${job.actor} ${text}`),
      });
    };
    try {
      await answer({ job, octokit, reply }, opts, log);
    } catch (err) {
      // Never silent: the commenter hears that it failed and why; the log has the whole chain.
      log.warn({ err, key: previewKey(job) }, `handling a /preview comment on ${previewKey(job)} failed`);
      const what = job.parsed.type === "command" ? `\`/preview ${job.parsed.command.name}\`` : "your comment";
      await reply(`Sorry, I could not act on ${what}: ${describeError(err).slice(0, 300)}. Please try again.`).catch(
        (e: unknown) => log.warn({ err: e }, "could not post the failure reply either"),
      );
    }
  };
}

async function answer(turn: Turn, opts: CommentJobOptions, log: Logger): Promise<void> {
  const { job, octokit, reply } = turn;
  const key = previewKey(job);
  if (job.parsed.type === "reply") return reply(job.parsed.text);
  const command = job.parsed.command;
  if (command.name === "help") return reply(`\n\n${COMMENT_HELP}`);
  if (!DISPATCHED.has(command.name))
    return reply(`\`/preview ${command.name}\` is not available yet.\n\n${COMMENT_HELP}`);

  // Only "no such file" means not enrolled; any other failure to read the config is an error (answered above).
  const config = await loadRepoConfig(octokit, job.owner, job.repo);
  if (!config) {
    log.debug({ key }, "repository not enrolled");
    return reply(
      "this repository is not enrolled: add `.github/preview.yml` to its default branch (see preview-bot's README).",
    );
  }
  const pull = await getPull(octokit, job.owner, job.repo, job.number);
  const authorize = createAuthorizer({
    clientFor: async () => octokit as unknown as PermissionClient,
    ...(config.ok ? { policy: config.config.permissions } : {}),
    isForkPr: async () => pull.fork,
  });
  const decision = await authorize(job.actor, job.owner, job.repo, command.name as AuthzAction, job.number);
  if (!decision.allowed) {
    log.info({ key }, `refused /preview ${command.name} for @${job.actor}`);
    return reply(decision.reason);
  }
  const pin = await reviewedCommit(turn, command, pull, opts.heads);
  if ("refuse" in pin) {
    log.info({ key, head: pull.sha }, `refused /preview ${command.name} by @${job.actor}: ${pin.refuse}`);
    return reply(pin.refuse);
  }
  const { deduplicated } = await opts.dispatcher.dispatch({
    action: command.name as PreviewAction,
    owner: job.owner,
    repo: job.repo,
    number: job.number,
    actor: job.actor,
    source: "comment",
    installationId: job.installationId,
    deliveryId: `${job.deliveryId}:run`,
    ...(pin.sha ? { sha: pin.sha } : {}),
    ...(command.dryRun ? { dryRun: true } : {}),
    ...(command.ttlMs ? { ttlMs: command.ttlMs } : {}),
    ...(command.target ? { backup: command.target } : {}),
  });
  if (deduplicated) return log.debug({ key }, `delivery ${job.deliveryId} was already dispatched`);
  await octokit.rest.reactions
    .createForIssueComment({ owner: job.owner, repo: job.repo, comment_id: job.commentId, content: "eyes" })
    .catch((err: unknown) => log.warn({ err, key }, `could not add a reaction to comment ${job.commentId}`));
}

/**
 * The commit a deploy must be pinned to: an explicit `<sha>` (it must be the head), or, on a fork PR, the head the
 * comment was written for (it must have arrived before the comment). Nothing for other commands and other PRs.
 */
async function reviewedCommit(
  turn: Turn,
  command: PreviewCommand,
  pull: PullFacts,
  heads: HeadLog,
): Promise<{ sha?: string } | { refuse: string }> {
  if (command.name !== "deploy" && command.name !== "redeploy") return {};
  const { job, octokit } = turn;
  const head = pull.sha;
  const short = head.slice(0, 7);
  if (command.sha) {
    if (!head.startsWith(command.sha))
      return {
        refuse: `\`${command.sha.slice(0, 12)}\` is not the head of this pull request (the head is \`${short}\`), so nothing was deployed. Review the head commit and deploy it.`,
      };
    return { sha: head };
  }
  if (!pull.fork) return {};
  const evidence = [
    await heads.firstSeen(previewKey(job), head),
    await headArrivedAt(octokit, job.owner, job.repo, head),
  ].filter((t): t is string => t !== undefined);
  const arrived = Math.min(...evidence.map((t) => Date.parse(t)));
  if (evidence.length === 0) {
    return {
      refuse: `this pull request comes from a fork and I cannot tell whether its head \`${short}\` was pushed before your comment, so nothing was deployed. To deploy exactly that commit, comment \`/preview ${command.name} ${short}\`.`,
    };
  }
  // GitHub's times have one-second resolution: a head that arrived in the comment's own second may have come after it.
  if (arrived >= Date.parse(job.commentedAt))
    return { refuse: `the PR moved to \`${short}\`; review and deploy again.` };
  return { sha: head };
}
