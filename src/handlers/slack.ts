/**
 * The Slack door: `/preview` slash command and the buttons on notifier messages, through Bolt's HTTPReceiver on
 * `/slack/events`. The caller mounts `requestListener` on the shared server; `app.start()` is never called.
 *
 * Every request is `ack()`ed first (Slack wants an answer within 3 s), then: help/list/status are answered from the
 * directory; anything that changes a preview maps the Slack user to a GitHub login, asks the authorizer (same rules
 * as PR comments), and hands the request to the dispatcher. Answers are ephemeral.
 */
import type { RequestListener } from "node:http";
import { App, HTTPReceiver, LogLevel, type Logger as BoltLogger, type RespondFn, type webApi } from "@slack/bolt";
import { parseSlash, formatDuration, type SlashCommand } from "../commands/parse.js";
import type { Logger } from "../logger.js";
import type { AuthzAction, Authorizer } from "../services/github/authz.js";
import type { Dispatcher, PreviewAction, PreviewDirectory } from "../services/shared/dispatch.js";
import { ACTION_OPEN, ACTION_PATTERN, escapeSlack, previewBlocks, previewLine } from "../services/chat/slack-blocks.js";

/** Slack user id → GitHub login. */
export type IdentityMap = ReadonlyMap<string, string> | ((slackUserId: string) => string | undefined | Promise<string | undefined>);

/** Backups of one preview, for `/preview backups owner/repo#N` (optional: without it the command says so). */
export interface BackupCatalog {
  list(key: { owner: string; repo: string; number: number }): Promise<Array<{ name: string; createdAt?: string; sizeBytes?: number }>>;
}

/** The bot-level backup targets, for `/preview backup <target>` and `/preview backups <target>`. */
export interface BackupTargets {
  names(): string[];
  list(target: string): Promise<Array<{ name: string; createdAt?: string; sizeBytes?: number }>>;
  /** Start a backup now; its result is announced like a scheduled one. */
  run(target: string): Promise<void>;
}

export interface SlackAppOptions {
  signingSecret: string;
  botToken: string;
  /** Give both to skip Bolt's `auth.test` call (see DEPENDENCIES.md); otherwise it is made on the first request. */
  botId?: string;
  botUserId?: string;
  dispatcher: Dispatcher;
  directory: PreviewDirectory;
  identities: IdentityMap;
  authorizer: Authorizer;
  logger: Logger;
  backups?: BackupCatalog;
  targets?: BackupTargets;
  clientOptions?: webApi.WebClientOptions;
  /** Shown to unmapped users: how to get their Slack account mapped to GitHub. */
  mappingHelp?: string;
  /** The slash command as configured in the Slack app (default `/preview`). */
  command?: string;
}

export interface SlackApp {
  app: App;
  requestListener: RequestListener;
}

type Say = (text: string, blocks?: ReturnType<typeof previewBlocks>) => Promise<void>;
interface Caller {
  userId: string;
  channel: string;
  responseUrl?: string;
}

const LIST_LIMIT = 25;
const MUTATING: ReadonlySet<string> = new Set(["deploy", "redeploy", "destroy", "extend", "backup"]);

export function createSlackApp(opts: SlackAppOptions): SlackApp {
  const log = opts.logger.child({ component: "slack" });
  const boltLogger = toBoltLogger(log);
  const receiver = new HTTPReceiver({ signingSecret: opts.signingSecret, endpoints: "/slack/events", logger: boltLogger });
  const app = new App({
    token: opts.botToken,
    receiver,
    logger: boltLogger,
    ...(opts.botId && opts.botUserId ? { botId: opts.botId, botUserId: opts.botUserId } : { tokenVerificationEnabled: false }),
    ...(opts.clientOptions ? { clientOptions: opts.clientOptions } : {}),
  });

  app.command(opts.command ?? "/preview", async ({ command, ack, respond }) => {
    const parsed = parseSlash(command.text);
    if (parsed.type !== "command") {
      await ack(parsed.type === "reply" ? { response_type: "ephemeral", text: parsed.text } : undefined);
      return;
    }
    await ack();
    const caller: Caller = { userId: command.user_id, channel: command.channel_id, responseUrl: command.response_url };
    await handle(parsed.command, caller, sayVia(respond, caller));
  });

  app.action(ACTION_OPEN, async ({ ack }) => {
    await ack();
  });

  app.action(ACTION_PATTERN, async ({ ack, body, action, respond }) => {
    await ack();
    const caller: Caller = { userId: body.user.id, channel: body.channel?.id ?? "", ...("response_url" in body && typeof body.response_url === "string" ? { responseUrl: body.response_url } : {}) };
    const say = sayVia(respond, caller);
    const value = action.type === "button" ? action.value : undefined;
    const parsed = value ? parseSlash(value) : undefined;
    if (parsed?.type !== "command" || !MUTATING.has(parsed.command.name)) {
      log.warn({ actionType: action.type, user: caller.userId }, "ignoring a preview button with an unexpected value");
      await say("Sorry, I could not read that button.");
      return;
    }
    await handle(parsed.command, caller, say);
  });

  app.error(async (err) => {
    log.error({ err }, "Slack listener failed");
  });

  function sayVia(respond: RespondFn | undefined, caller: Caller): Say {
    return async (text, blocks) => {
      try {
        if (respond) await respond({ response_type: "ephemeral", replace_original: false, text, ...(blocks ? { blocks } : {}) });
        else await app.client.chat.postEphemeral({ channel: caller.channel, user: caller.userId, text, ...(blocks ? { blocks } : {}) });
      } catch (err) {
        log.warn({ err, user: caller.userId }, "could not answer in Slack");
      }
    };
  }

  /** `backup <target>` / `backups <target>`: any mapped user (taking or listing a backup changes no data). */
  async function handleTarget(command: { name: "backup" | "backups"; backupTarget: string }, caller: Caller, say: Say): Promise<void> {
    const login = await lookup(opts.identities, caller.userId);
    if (!login) return say(`I don't know your GitHub account yet, so I can't run backups for you. ${opts.mappingHelp ?? "Ask a preview-bot admin to map your Slack user to your GitHub login."}`);
    const target = command.backupTarget;
    if (!opts.targets || !opts.targets.names().includes(target)) {
      const known = opts.targets?.names() ?? [];
      return say(`\`${escapeSlack(target, 63)}\` is not a backup target here${known.length ? `; known: ${known.map((n) => `\`${escapeSlack(n, 63)}\``).join(", ")}` : " (no backup targets are configured)"}.`);
    }
    if (command.name === "backups") {
      const list = await opts.targets.list(target);
      if (list.length === 0) return say(`No backups of \`${escapeSlack(target, 63)}\` yet.`);
      return say(list.slice(0, LIST_LIMIT).map((b) => `• \`${escapeSlack(b.name, 200)}\`${b.createdAt ? ` ${escapeSlack(b.createdAt, 40)}` : ""}`).join("\n"));
    }
    log.info({ target, actor: login }, "backup requested from Slack");
    await say(`Backing up \`${escapeSlack(target, 63)}\` now; the result will be posted in the backups channel.`);
    void opts.targets.run(target).catch((err: unknown) => log.error({ err, target }, "backup requested from Slack failed"));
  }

  async function handle(command: SlashCommand, caller: Caller, say: Say): Promise<void> {
    try {
      if ("backupTarget" in command) return await handleTarget(command, caller, say);
      switch (command.name) {
        case "help":
          return; // answered by ack
        case "list": {
          const filter = command.owner && command.repo ? { owner: command.owner, repo: command.repo } : undefined;
          const previews = await opts.directory.list(filter);
          if (previews.length === 0) return say(filter ? `No previews for ${escapeSlack(`${filter.owner}/${filter.repo}`)}.` : "No previews right now.");
          const lines = previews.slice(0, LIST_LIMIT).map(previewLine);
          if (previews.length > LIST_LIMIT) lines.push(`…and ${previews.length - LIST_LIMIT} more; narrow it with \`/preview list owner/repo\`.`);
          return say(lines.join("\n"));
        }
        case "status": {
          const summary = await opts.directory.get(command);
          if (!summary) return say(`No preview for ${escapeSlack(keyOf(command))}.`);
          return say(previewLine(summary), previewBlocks(summary));
        }
        case "backups": {
          const login = await allowed(caller, command, "backups", say);
          if (!login) return;
          if (!opts.backups) return say("Listing backups is not available on this installation.");
          const backups = await opts.backups.list(command);
          if (backups.length === 0) return say(`No backups for ${escapeSlack(keyOf(command))}.`);
          return say(backups.slice(0, LIST_LIMIT).map((b) => `• \`${escapeSlack(b.name, 200)}\`${b.createdAt ? ` ${escapeSlack(b.createdAt, 40)}` : ""}`).join("\n"));
        }
        default: {
          const action: PreviewAction = command.name;
          const login = await allowed(caller, command, action, say);
          if (!login) return;
          const result = await opts.dispatcher.dispatch({
            action,
            owner: command.owner,
            repo: command.repo,
            number: command.number,
            actor: login,
            source: "slack",
            ...(command.name === "destroy" && command.dryRun ? { dryRun: true } : {}),
            ...(command.name === "extend" ? { ttlMs: command.ttlMs } : {}),
            slack: { channel: caller.channel, user: caller.userId, ...(caller.responseUrl ? { responseUrl: caller.responseUrl } : {}) },
          });
          log.info({ action, key: keyOf(command), actor: login, jobId: result.jobId, deduplicated: result.deduplicated }, "dispatched from Slack");
          const what = `\`${action}${command.name === "destroy" && command.dryRun ? " --dry-run" : ""}${command.name === "extend" ? ` ${formatDuration(command.ttlMs)}` : ""}\``;
          return say(result.deduplicated ? `${what} for ${escapeSlack(keyOf(command))} is already queued.` : `Queued ${what} for ${escapeSlack(keyOf(command))}. I'll post progress in the PR's thread.`);
        }
      }
    } catch (err) {
      log.error({ err, command: command.name, user: caller.userId }, "handling a Slack preview command failed");
      await say(`Sorry, \`${command.name}\` failed on my side; the error is logged.`);
    }
  }

  /** The caller's GitHub login when mapped and allowed; otherwise answers them and returns undefined. */
  async function allowed(caller: Caller, target: { owner: string; repo: string; number: number }, action: AuthzAction, say: Say): Promise<string | undefined> {
    const login = await lookup(opts.identities, caller.userId);
    if (!login) {
      log.debug({ user: caller.userId, action }, "refused: Slack user not mapped to GitHub");
      await say(`I don't know your GitHub account yet, so I can't \`${action}\` previews for you. ${opts.mappingHelp ?? "Ask a preview-bot admin to map your Slack user to your GitHub login."} (Your Slack id: \`${escapeSlack(caller.userId, 20)}\`.)`);
      return undefined;
    }
    let decision;
    try {
      decision = await opts.authorizer(login, target.owner, target.repo, action, target.number);
    } catch (err) {
      log.warn({ err, login, action }, "permission check failed");
      await say(`I couldn't check your permission on ${escapeSlack(`${target.owner}/${target.repo}`)} right now; please try again shortly.`);
      return undefined;
    }
    if (!decision.allowed) {
      log.debug({ login, action, key: keyOf(target) }, "refused by policy");
      await say(escapeSlack(decision.reason, 300));
      return undefined;
    }
    return login;
  }

  return { app, requestListener: receiver.requestListener };
}

function keyOf(t: { owner: string; repo: string; number: number }): string {
  return `${t.owner}/${t.repo}#${t.number}`;
}

async function lookup(identities: IdentityMap, userId: string): Promise<string | undefined> {
  const login = typeof identities === "function" ? await identities(userId) : identities.get(userId);
  return login || undefined;
}

/** Bolt's logger interface on top of our pino logger (so its lines are redacted like ours). */
function toBoltLogger(log: Logger): BoltLogger {
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
