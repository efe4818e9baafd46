/**
 * PR comments → `/preview …` commands, acknowledged at once: parse (pure, no API call), then enqueue one `comment`
 * job and return. The intake's gate (enrolled, allowed, pinned), the reaction and any reply happen in that job
 * (src/intake/comment-job.ts), so GitHub gets its 2xx without waiting on GitHub.
 *
 * Guards, in order (each logs one debug line and returns): not a pull request, written by a bot (by type or by a
 * `[bot]` login — ignored without a reply, so two bots can never talk to each other), not addressed to us, no
 * installation. The job is deduplicated by the delivery id: a redelivered comment is answered once.
 */
import type { Context } from "probot";
import { parseComment } from "../intake/parse.js";
import { isBotLogin } from "../services/github/authz.js";
import { enqueueComment } from "../intake/comment-job.js";
import type { Queue } from "../services/jobs/queue.js";

export function onIssueComment(queue: Pick<Queue, "enqueue">) {
  return async (context: Context<"issue_comment.created">): Promise<void> => {
    const { comment, issue, repository, sender, installation } = context.payload;
    const key = `${repository.full_name}#${issue.number}`;
    if (!issue.pull_request) return context.log.debug(`${key}: comment on an issue, not a pull request`);
    if (isBot(sender) || (comment.user && isBot(comment.user)))
      return context.log.debug(`${key}: comment by a bot, ignored`);
    const parsed = parseComment(comment.body ?? "");
    if (parsed.type === "ignore") return context.log.debug(`${key}: comment is not a /preview command`);
    if (!installation) return context.log.debug(`${key}: comment without an installation, ignored`);
    const { deduplicated } = await enqueueComment(queue, {
      installationId: installation.id,
      owner: repository.owner.login,
      repo: repository.name,
      number: issue.number,
      actor: sender.login,
      commentId: comment.id,
      commentedAt: comment.created_at,
      parsed,
      deliveryId: context.id,
    });
    if (deduplicated) context.log.debug(`${key}: delivery ${context.id} was already accepted`);
  };
}

function isBot(user: { login: string; type?: string }): boolean {
  return user.type === "Bot" || isBotLogin(user.login);
}
