/**
 * The second half of the PR-comment door, run as a job (kind `comment`) right after the webhook was acknowledged:
 * everything that needs GitHub happens here, not on the request. Help and parser replies are posted; a command goes
 * through the intake's gate (enrolled → allowed → pinned → supersede → enqueue), whose refusal is the reply and
 * whose acceptance is the eyes reaction. The job is deduplicated by the delivery id, so a redelivered comment gets
 * no second reply.
 */
import { describeError } from "../services/shared/format.js";
import type { Logger } from "../logger.js";
import { redactText } from "../logger.js";
import type { Octokit } from "../services/github/reads.js";
import type { Queue } from "../services/jobs/queue.js";

import { previewKey } from "../services/shared/preview.js";
import type { Intake } from "./gate.js";
import type { PreviewCommand } from "./parse.js";

export const COMMENT_JOB = "comment";

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
function commentJobKey(job: { owner: string; repo: string; number: number }): string {
  return `${previewKey(job)} comments`;
}

/** Queue a comment for its job (deduplicated by the delivery id: a redelivered comment is answered once). */
export function enqueueComment(queue: Pick<Queue, "enqueue">, job: CommentJob): Promise<{ deduplicated: boolean }> {
  return queue.enqueue({ kind: COMMENT_JOB, key: commentJobKey(job), payload: job, dedupeId: job.deliveryId });
}

export interface CommentJobOptions {
  octokitFor(installationId: number): Promise<Octokit>;
  intake: Intake;
  logger: Logger;
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
      await answer(job, octokit, reply, opts.intake, log);
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

async function answer(
  job: CommentJob,
  octokit: Octokit,
  reply: (text: string) => Promise<void>,
  intake: Intake,
  log: Logger,
): Promise<void> {
  if (job.parsed.type === "reply") return reply(job.parsed.text);
  const { name, ...args } = job.parsed.command;
  const key = previewKey(job);
  const outcome = await intake.submit({
    door: "comment",
    action: name,
    subject: { kind: "pull", owner: job.owner, repo: job.repo, number: job.number, installationId: job.installationId },
    actor: job.actor,
    args,
    commentedAt: job.commentedAt,
    deliveryId: `${job.deliveryId}:run`,
  });
  if (outcome.type === "refused") return reply(outcome.reason);
  if (outcome.type !== "queued") return; // nothing the comment door answers itself reaches here (help is a parse reply)
  if (outcome.deduplicated) return log.debug({ key }, `delivery ${job.deliveryId} was already dispatched`);
  await octokit.rest.reactions
    .createForIssueComment({ owner: job.owner, repo: job.repo, comment_id: job.commentId, content: "eyes" })
    .catch((err: unknown) => log.warn({ err, key }, `could not add a reaction to comment ${job.commentId}`));
}
