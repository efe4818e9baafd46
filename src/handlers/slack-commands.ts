/**
 * What the Slack door does with a parsed `/preview` command or button, after Bolt acknowledged it (the caller's
 * `say` answers ephemerally). Slack authorization is GitHub authorization, through the same intake gate as a PR
 * comment: the door maps the Slack user to a GitHub login (SLACK_USER_MAP; an unmapped user is told how to get
 * mapped, and gets nothing else), builds the request and answers with the gate's outcome. What the door answers
 * itself (list, status, backups) is read only after the gate allowed it, and `list` shows only the previews of
 * repositories the asker can read. A deploy of a fork PR must name its commit: the refusal offers a button that names
 * the head, so a confirmation deploys exactly that commit.
 */
import type { types } from "@slack/bolt";
import type { Intake, Outcome } from "../intake/gate.js";
import type { SlashCommand, SlashTarget } from "../intake/parse.js";
import type { Request } from "../intake/request.js";
import type { Logger } from "../logger.js";
import { ACTION_CONFIRM_DEPLOY, escapeSlack, previewBlocks, previewLine } from "../services/chat/slack-blocks.js";
import type { BackupReads, PreviewDirectory } from "../services/shared/dispatch.js";
import { formatTtl } from "../services/shared/format.js";

/** Slack user id → GitHub login. */
export type IdentityMap =
  ReadonlyMap<string, string> | ((slackUserId: string) => string | undefined | Promise<string | undefined>);

export type Say = (text: string, blocks?: types.KnownBlock[]) => Promise<void>;

export interface Caller {
  userId: string;
  channel: string;
  responseUrl?: string;
}

export interface SlackCommandsOptions {
  intake: Intake;
  directory: PreviewDirectory;
  identities: IdentityMap;
  /** Backups of previews and of the configured targets (absent without backup storage). */
  backups?: BackupReads;
  mappingHelp?: string;
}

const LIST_LIMIT = 25;
const keyOf = (t: SlashTarget) => `${t.owner}/${t.repo}#${t.number}`;
const backupLines = (list: Array<{ name: string; createdAt?: string }>) =>
  list
    .slice(0, LIST_LIMIT)
    .map((b) => `• \`${escapeSlack(b.name, 200)}\`${b.createdAt ? ` ${escapeSlack(b.createdAt, 40)}` : ""}`)
    .join("\n");

export class SlackCommands {
  constructor(
    private readonly opts: SlackCommandsOptions,
    private readonly log: Logger,
  ) {}

  async handle(command: SlashCommand, caller: Caller, say: Say): Promise<void> {
    try {
      if (command.name === "help") return; // answered by the ack
      const login = await this.mapped(caller, command.name, say);
      if (!login) return;
      const request = this.request(command, login, caller);
      let outcome: Outcome;
      try {
        outcome = await this.opts.intake.submit(request);
      } catch (err) {
        this.log.warn({ err, login, action: command.name }, "the intake could not decide a Slack request");
        return await say("I couldn't check your permission right now; please try again shortly.");
      }
      if (outcome.type === "refused")
        return await say(escapeSlack(outcome.reason, 500), confirmBlocks(command, outcome));
      if (outcome.type === "allowed") return await this.read(command, login, say);
      return await this.queued(command, outcome, login, say);
    } catch (err) {
      this.log.error({ err, command: command.name, user: caller.userId }, "handling a Slack preview command failed");
      await say(`Sorry, \`${command.name}\` failed on my side; the error is logged.`);
    }
  }

  private request(command: SlashCommand, login: string, caller: Caller): Request {
    const { name, sha, dryRun, ttlMs } = command;
    const subject: Request["subject"] =
      "backupTarget" in command
        ? { kind: "target", name: command.backupTarget }
        : command.number !== undefined
          ? { kind: "pull", owner: command.owner, repo: command.repo, number: command.number }
          : { kind: "fleet", ...(command.owner && command.repo ? { owner: command.owner, repo: command.repo } : {}) };
    return {
      door: "slack",
      action: name,
      subject,
      actor: login,
      args: { ...(sha ? { sha } : {}), ...(dryRun ? { dryRun } : {}), ...(ttlMs ? { ttlMs } : {}) },
      slack: {
        channel: caller.channel,
        user: caller.userId,
        ...(caller.responseUrl ? { responseUrl: caller.responseUrl } : {}),
      },
    };
  }

  /** The answers the door gives itself, once the gate allowed them. */
  private async read(command: SlashCommand, login: string, say: Say): Promise<void> {
    if ("backupTarget" in command) {
      const list = (await this.opts.backups?.ofTarget(command.backupTarget)) ?? [];
      return say(
        list.length === 0 ? `No backups of \`${escapeSlack(command.backupTarget, 63)}\` yet.` : backupLines(list),
      );
    }
    if (command.number === undefined) return this.list(command, login, say);
    if (command.name === "status") {
      const summary = await this.opts.directory.get(command);
      return say(
        summary ? previewLine(summary) : `No preview for ${escapeSlack(keyOf(command))}.`,
        summary ? previewBlocks(summary) : undefined,
      );
    }
    if (!this.opts.backups) return say("Listing backups is not available on this installation.");
    const backups = await this.opts.backups.ofPreview(command);
    return say(backups.length === 0 ? `No backups for ${escapeSlack(keyOf(command))}.` : backupLines(backups));
  }

  private async list(command: { owner?: string; repo?: string }, login: string, say: Say): Promise<void> {
    const filter = command.owner && command.repo ? { owner: command.owner, repo: command.repo } : undefined;
    const previews = await this.opts.intake.readable(login, await this.opts.directory.list(filter));
    if (previews.length === 0)
      return say(
        filter
          ? `No previews for ${escapeSlack(`${filter.owner}/${filter.repo}`)} that you can see.`
          : "No previews that you can see.",
      );
    const lines = previews.slice(0, LIST_LIMIT).map(previewLine);
    if (previews.length > LIST_LIMIT)
      lines.push(`…and ${previews.length - LIST_LIMIT} more; narrow it with \`/preview list owner/repo\`.`);
    return say(lines.join("\n"));
  }

  private async queued(
    command: SlashCommand,
    outcome: Extract<Outcome, { type: "queued" }>,
    login: string,
    say: Say,
  ): Promise<void> {
    const where =
      "backupTarget" in command
        ? `\`${escapeSlack(command.backupTarget, 63)}\``
        : command.number !== undefined
          ? escapeSlack(keyOf(command))
          : "";
    this.log.info(
      { action: command.name, where, actor: login, jobId: outcome.jobId, sha: outcome.sha },
      "queued from Slack",
    );
    const what = `\`${command.name}${command.dryRun ? " --dry-run" : ""}${command.ttlMs ? ` ${formatTtl(command.ttlMs)}` : ""}\``;
    if (outcome.deduplicated) return say(`${what} for ${where} is already queued.`);
    const at = outcome.sha
      ? ` at \`${outcome.sha.slice(0, 7)}\` (exactly that commit${outcome.fork ? ": the pull request comes from a fork" : ""})`
      : "";
    const later =
      command.name === "deploy" || command.name === "redeploy" || (command.name === "destroy" && !command.dryRun)
        ? "I'll post progress in the PR's thread."
        : "I'll answer here when it's done.";
    return say(`Queued ${what} for ${where}${at}. ${later}`);
  }

  /** The caller's GitHub login; unmapped callers are told how to get mapped. */
  private async mapped(caller: Caller, action: string, say: Say): Promise<string | undefined> {
    const ids = this.opts.identities;
    const login = (typeof ids === "function" ? await ids(caller.userId) : ids.get(caller.userId)) || undefined;
    if (login) return login;
    this.log.debug({ user: caller.userId, action }, "refused: Slack user not mapped to GitHub");
    await say(
      `I don't know your GitHub account yet, so I can't \`${action}\` for you. ${this.opts.mappingHelp ?? "Ask a preview-bot admin to map your Slack user to your GitHub login."} (Your Slack id: \`${escapeSlack(caller.userId, 20)}\`.)`,
    );
    return undefined;
  }
}

/** A fork PR's deploy that named no commit: a button that deploys exactly the head the refusal named. */
function confirmBlocks(
  command: SlashCommand,
  outcome: Extract<Outcome, { type: "refused" }>,
): types.KnownBlock[] | undefined {
  if (!outcome.confirm || "backupTarget" in command || command.number === undefined) return undefined;
  const target = keyOf(command);
  const short = outcome.confirm.slice(0, 7);
  return [
    { type: "section", text: { type: "mrkdwn", text: escapeSlack(outcome.reason, 500) } },
    {
      type: "actions",
      block_id: "preview-confirm",
      elements: [
        {
          type: "button",
          action_id: ACTION_CONFIRM_DEPLOY,
          style: "primary",
          text: { type: "plain_text", text: `Deploy ${short}` },
          value: `${command.name} ${target} ${outcome.confirm}`,
        },
      ],
    },
  ];
}
