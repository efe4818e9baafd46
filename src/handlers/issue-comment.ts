/**
 * PR comments → `/preview …` commands. Parse first (pure, no API call), then authorize the commenter with their
 * repository permission, then hand the command to the dispatcher and return. A reaction acknowledges receipt;
 * results land in the sticky comment; a reply is posted only when there is something to say (help, a refusal).
 *
 * Guards, in order (each logs one debug line and returns): not a pull request, written by a bot (by type or by a
 * `[bot]` login — ignored without a reply, so two bots can never talk to each other), not addressed to us. Then
 * help and parser replies go to anyone; commands need the repository to be enrolled and the commenter to pass
 * `authz`. The `eyes` reaction is added only once the job is accepted, and not again for a redelivered event.
 */
import type { Context } from "probot";
import { COMMENT_HELP } from "../commands/help.js";
import { parseComment } from "../commands/parse.js";
import { loadRepoConfig } from "../services/github/reads.js";
import { createAuthorizer, isBotLogin, type AuthzAction, type PermissionClient } from "../services/github/authz.js";
import type { Dispatcher, PreviewAction } from "../services/shared/dispatch.js";

const DISPATCHED: ReadonlySet<string> = new Set<PreviewAction>(["deploy", "redeploy", "destroy", "status", "extend", "backup", "restore"]);

export function onIssueComment(dispatcher: Dispatcher) {
  return async (context: Context<"issue_comment.created">): Promise<void> => {
    const { comment, issue, repository, sender, installation } = context.payload;
    const key = `${repository.full_name}#${issue.number}`;
    if (!issue.pull_request) return context.log.debug(`${key}: comment on an issue, not a pull request`);
    if (isBot(sender) || (comment.user && isBot(comment.user))) return context.log.debug(`${key}: comment by a bot, ignored`);
    const parsed = parseComment(comment.body ?? "");
    if (parsed.type === "ignore") return context.log.debug(`${key}: comment is not a /preview command`);
    const owner = repository.owner.login;
    const repo = repository.name;
    const reply = async (body: string) => {
      await context.octokit.rest.issues.createComment({ owner, repo, issue_number: issue.number, body: `@${sender.login} ${body}` });
    };
    if (parsed.type === "reply") return reply(parsed.text);
    const command = parsed.command;
    if (command.name === "help") return reply(`\n\n${COMMENT_HELP}`);
    if (!DISPATCHED.has(command.name)) return reply(`\`/preview ${command.name}\` is not available yet.\n\n${COMMENT_HELP}`);

    // Only "no such file" means not enrolled; any other failure to read the config is an error, not a refusal.
    const config = await loadRepoConfig(context.octokit, owner, repo);
    if (!config) {
      context.log.debug(`${key}: repository not enrolled`);
      return reply("this repository is not enrolled: add `.github/preview.yml` to its default branch (see preview-bot's README).");
    }
    const authorize = createAuthorizer({
      clientFor: async () => context.octokit as unknown as PermissionClient,
      ...(config.ok ? { policy: config.config.permissions } : {}),
      isForkPr: async () => {
        const { data } = await context.octokit.rest.pulls.get({ owner, repo, pull_number: issue.number });
        return data.head.repo?.full_name !== data.base.repo.full_name;
      },
    });
    const decision = await authorize(sender.login, owner, repo, command.name as AuthzAction, issue.number);
    if (!decision.allowed) {
      context.log.info(`${key}: refused /preview ${command.name} for @${sender.login}`);
      return reply(decision.reason);
    }
    const { deduplicated } = await dispatcher.dispatch({
      action: command.name as PreviewAction,
      owner,
      repo,
      number: issue.number,
      actor: sender.login,
      source: "comment",
      deliveryId: context.id,
      ...(installation ? { installationId: installation.id } : {}),
      ...(command.dryRun ? { dryRun: true } : {}),
      ...(command.ttlMs ? { ttlMs: command.ttlMs } : {}),
      ...(command.target ? { backup: command.target } : {}),
    });
    if (deduplicated) return context.log.debug(`${key}: delivery ${context.id} was already accepted`);
    await context.octokit.rest.reactions
      .createForIssueComment({ owner, repo, comment_id: comment.id, content: "eyes" })
      .catch((err: unknown) => context.log.warn({ err }, `${key}: could not add a reaction to comment ${comment.id}`));
  };
}

function isBot(user: { login: string; type?: string }): boolean {
  return user.type === "Bot" || isBotLogin(user.login);
}
