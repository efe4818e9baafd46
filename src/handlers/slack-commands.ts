/**
 * What the Slack door does with a parsed `/preview` command or button, after Bolt acknowledged it (the caller's
 * `say` answers ephemerally). Slack authorization is GitHub authorization:
 *
 * - every command needs a mapped Slack user (`SLACK_USER_MAP`), `list` and `status` included;
 * - a command on a preview asks the authorizer — the repository's own `permissions` policy, the fork rule — as a
 *   PR comment would;
 * - `backup <target>` / `backups <target>` need a bot admin (`PREVIEW_BOT_ADMINS`), or the `backup` / `backups`
 *   permission on one of the target's `allowedRepos` (a target without `allowedRepos` is for admins only);
 * - a deploy of a fork PR is pinned to one commit: the one named (`deploy owner/repo#N <sha>`), else for a redeploy
 *   the commit deployed now (a Redeploy button never moves a fork preview to a newer commit), else the head as read
 *   now — and the answer names it.
 */
import { formatDuration, type SlashCommand } from "../intake/parse.js";
import type { Logger } from "../logger.js";
import type { AuthzAction, Authorizer } from "../services/github/authz.js";
import { escapeSlack, previewBlocks, previewLine } from "../services/chat/slack-blocks.js";
import type { Dispatcher, PreviewDirectory } from "../services/shared/dispatch.js";

/** Slack user id → GitHub login. */
export type IdentityMap =
  ReadonlyMap<string, string> | ((slackUserId: string) => string | undefined | Promise<string | undefined>);

/** Backups of one preview, for `/preview backups owner/repo#N` (optional: without it the command says so). */
export interface BackupCatalog {
  list(key: {
    owner: string;
    repo: string;
    number: number;
  }): Promise<Array<{ name: string; createdAt?: string; sizeBytes?: number }>>;
}

/** The bot-level backup targets, for `/preview backup <target>` and `/preview backups <target>`. */
export interface BackupTargets {
  names(): string[];
  list(target: string): Promise<Array<{ name: string; createdAt?: string; sizeBytes?: number }>>;
  /** Start a backup now; its result is announced like a scheduled one. */
  run(target: string): Promise<void>;
  /** The repositories (`owner/repo`) allowed to use the target's data; none: bot admins only. */
  allowedRepos?(target: string): readonly string[] | undefined;
}

export type Say = (text: string, blocks?: ReturnType<typeof previewBlocks>) => Promise<void>;

export interface Caller {
  userId: string;
  channel: string;
  responseUrl?: string;
}

export interface SlackCommandsOptions {
  dispatcher: Dispatcher;
  directory: PreviewDirectory;
  identities: IdentityMap;
  authorizer: Authorizer;
  /** A pull request's head commit and whether it comes from a fork (for pinning fork deploys). */
  pulls?(owner: string, repo: string, number: number): Promise<{ sha: string; fork: boolean }>;
  /** GitHub logins that may use every backup target. */
  admins?: readonly string[];
  backups?: BackupCatalog;
  targets?: BackupTargets;
  mappingHelp?: string;
}

type Target = { owner: string; repo: string; number: number };
/** The commands that become a preview job. */
type JobCommand = Exclude<Extract<SlashCommand, Target>, { name: "status" | "backups" }>;

const LIST_LIMIT = 25;
const keyOf = (t: Target) => `${t.owner}/${t.repo}#${t.number}`;
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
      if ("backupTarget" in command) return await this.target(command, login, say);
      switch (command.name) {
        case "list":
          return await this.list(command, say);
        case "status": {
          const summary = await this.opts.directory.get(command);
          return say(
            summary ? previewLine(summary) : `No preview for ${escapeSlack(keyOf(command))}.`,
            summary ? previewBlocks(summary) : undefined,
          );
        }
        case "backups": {
          if (!(await this.allowed(login, command, "backups", say))) return;
          if (!this.opts.backups) return say("Listing backups is not available on this installation.");
          const backups = await this.opts.backups.list(command);
          return say(backups.length === 0 ? `No backups for ${escapeSlack(keyOf(command))}.` : backupLines(backups));
        }
        default:
          if (!(await this.allowed(login, command, command.name, say))) return;
          return await this.dispatch(command, login, caller, say);
      }
    } catch (err) {
      this.log.error({ err, command: command.name, user: caller.userId }, "handling a Slack preview command failed");
      await say(`Sorry, \`${command.name}\` failed on my side; the error is logged.`);
    }
  }

  private async list(command: { owner?: string; repo?: string }, say: Say): Promise<void> {
    const filter = command.owner && command.repo ? { owner: command.owner, repo: command.repo } : undefined;
    const previews = await this.opts.directory.list(filter);
    if (previews.length === 0)
      return say(
        filter ? `No previews for ${escapeSlack(`${filter.owner}/${filter.repo}`)}.` : "No previews right now.",
      );
    const lines = previews.slice(0, LIST_LIMIT).map(previewLine);
    if (previews.length > LIST_LIMIT)
      lines.push(`…and ${previews.length - LIST_LIMIT} more; narrow it with \`/preview list owner/repo\`.`);
    return say(lines.join("\n"));
  }

  private async dispatch(command: JobCommand, login: string, caller: Caller, say: Say): Promise<void> {
    const pinned = command.name === "deploy" || command.name === "redeploy" ? await this.pin(command) : undefined;
    if (pinned && "refuse" in pinned) return say(pinned.refuse);
    const result = await this.opts.dispatcher.dispatch({
      action: command.name,
      owner: command.owner,
      repo: command.repo,
      number: command.number,
      actor: login,
      source: "slack",
      ...(pinned?.sha ? { sha: pinned.sha } : {}),
      ...(command.name === "destroy" && command.dryRun ? { dryRun: true } : {}),
      ...(command.name === "extend" ? { ttlMs: command.ttlMs } : {}),
      slack: {
        channel: caller.channel,
        user: caller.userId,
        ...(caller.responseUrl ? { responseUrl: caller.responseUrl } : {}),
      },
    });
    const key = escapeSlack(keyOf(command));
    this.log.info(
      {
        action: command.name,
        key: keyOf(command),
        actor: login,
        jobId: result.jobId,
        deduplicated: result.deduplicated,
        sha: pinned?.sha,
      },
      "dispatched from Slack",
    );
    const what = `\`${command.name}${command.name === "destroy" && command.dryRun ? " --dry-run" : ""}${command.name === "extend" ? ` ${formatDuration(command.ttlMs)}` : ""}\``;
    if (result.deduplicated) return say(`${what} for ${key} is already queued.`);
    const at = pinned?.sha
      ? ` at \`${pinned.sha.slice(0, 7)}\` (exactly that commit${pinned.fork ? ": the pull request comes from a fork" : ""})`
      : "";
    const later =
      command.name === "deploy" || command.name === "redeploy" || (command.name === "destroy" && !command.dryRun)
        ? "I'll post progress in the PR's thread."
        : "I'll answer here when it's done.";
    return say(`Queued ${what} for ${key}${at}. ${later}`);
  }

  /** The commit a Slack deploy must deploy: named, or (fork PRs) the deployed one for a redeploy, else the head now. */
  private async pin(
    command: Target & { name: "deploy" | "redeploy"; sha?: string },
  ): Promise<{ sha?: string; fork?: boolean } | { refuse: string }> {
    if (!command.sha && !this.opts.pulls) return {};
    const pull = this.opts.pulls ? await this.opts.pulls(command.owner, command.repo, command.number) : undefined;
    if (command.sha) {
      if (pull && !pull.sha.startsWith(command.sha))
        return {
          refuse: `\`${escapeSlack(command.sha, 12)}\` is not the head of ${escapeSlack(keyOf(command))} (the head is \`${pull.sha.slice(0, 7)}\`), so nothing was queued.`,
        };
      return { sha: pull?.sha ?? command.sha, fork: pull?.fork ?? false };
    }
    if (!pull?.fork) return {};
    const deployed = command.name === "redeploy" ? (await this.opts.directory.get(command))?.sha : undefined;
    return { sha: deployed ?? pull.sha, fork: true };
  }

  private async target(
    command: { name: "backup" | "backups"; backupTarget: string },
    login: string,
    say: Say,
  ): Promise<void> {
    const target = command.backupTarget;
    const known = this.opts.targets?.names() ?? [];
    if (!this.opts.targets || !known.includes(target)) {
      return say(
        `\`${escapeSlack(target, 63)}\` is not a backup target here${known.length ? `; known: ${known.map((n) => `\`${escapeSlack(n, 63)}\``).join(", ")}` : " (no backup targets are configured)"}.`,
      );
    }
    if (!(await this.targetAllowed(login, target, command.name, say))) return;
    if (command.name === "backups") {
      const list = await this.opts.targets.list(target);
      return say(list.length === 0 ? `No backups of \`${escapeSlack(target, 63)}\` yet.` : backupLines(list));
    }
    this.log.info({ target, actor: login }, "backup requested from Slack");
    await say(`Backing up \`${escapeSlack(target, 63)}\` now; the result will be posted in the backups channel.`);
    void this.opts.targets
      .run(target)
      .catch((err: unknown) => this.log.error({ err, target }, "backup requested from Slack failed"));
  }

  /** A bot admin, or someone with the permission on one of the target's allowed repositories. */
  private async targetAllowed(login: string, target: string, action: "backup" | "backups", say: Say): Promise<boolean> {
    if (this.opts.admins?.includes(login)) return true;
    const repos = this.opts.targets?.allowedRepos?.(target) ?? [];
    const verb = action === "backup" ? "back it up" : "list its backups";
    const name = `\`${escapeSlack(target, 63)}\``;
    if (repos.length === 0) {
      this.log.debug({ login, target }, "refused: backup target without allowedRepos, caller not an admin");
      await say(`Sorry, ${name} names no allowed repositories, so only preview-bot admins can ${verb}.`);
      return false;
    }
    for (const full of repos) {
      const [owner, repo] = full.split("/");
      if (!owner || !repo) continue;
      const decision = await this.opts.authorizer(login, owner, repo, action).catch((err: unknown) => {
        this.log.warn({ err, login, repository: full }, "permission check for a backup target failed");
        return { allowed: false as const, reason: "" };
      });
      if (decision.allowed) return true;
    }
    await say(
      `Sorry, to ${verb} ${name} you need \`${action}\` permission on one of the repositories allowed to use it (${repos.map((r) => escapeSlack(r, 140)).join(", ")}), or to be a preview-bot admin.`,
    );
    return false;
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

  /** Whether `login` may do `action` on the preview (the repository's policy); otherwise answers why. */
  private async allowed(login: string, target: Target, action: AuthzAction, say: Say): Promise<boolean> {
    let decision;
    try {
      decision = await this.opts.authorizer(login, target.owner, target.repo, action, target.number);
    } catch (err) {
      this.log.warn({ err, login, action }, "permission check failed");
      await say(
        `I couldn't check your permission on ${escapeSlack(`${target.owner}/${target.repo}`)} right now; please try again shortly.`,
      );
      return false;
    }
    if (decision.allowed) return true;
    this.log.debug({ login, action, key: keyOf(target) }, "refused by policy");
    await say(escapeSlack(decision.reason, 300));
    return false;
  }
}
