/**
 * Comment and slash-command text → `ignore | reply | command`, before any API call (modelled on Atlantis'
 * comment_parser.go). Pure and total: never throws, whatever the input (1 MB, NUL bytes, unicode, shell
 * metacharacters), and never echoes user text raw — anything quoted back goes through `safeEcho`.
 *
 * Comment rules (decided here, tested in test/intake/parse.test.ts):
 * - Only the first non-blank line counts. It must start with `/preview` (case-insensitive, then a space or the
 *   end of the line), or with `@<botName>` when `botName` is given. Anything else is ignored: prose, quoted
 *   replies (`> /preview deploy`), code fences, indented code (a tab or 4+ spaces), a command on a later line.
 * - Lines after the command line are allowed and ignored: people add a note under the command ("deploying to
 *   show design review"), and the command line alone decides what happens.
 */
import { formatTtl } from "../services/shared/format.js";
import {
  ACTIONS,
  COMMENT_ACTIONS,
  SLACK_ACTIONS,
  type ArgKind,
  type CommentAction,
  type SlackAction,
} from "../actions.js";
import type { CommandArgs } from "../services/shared/request.js";
import { COMMENT_HELP, SLACK_HELP, commentUsage, slashUsage } from "./help.js";

export type { CommandArgs };

/** The names a comment may use (the table's comment actions). */
export type CommandName = CommentAction;

export interface PreviewCommand extends CommandArgs {
  name: CommandName;
}

export interface SlashTarget {
  owner: string;
  repo: string;
  number: number;
}

/**
 * A Slack command: its name, what it names (a pull request; for `backup`/`backups` a configured backup target
 * instead; for `list` optionally a repository) and its arguments.
 */
export type SlashCommand = { name: SlackAction } & CommandArgs &
  (SlashTarget | { backupTarget: string } | { owner?: string; repo?: string; number?: undefined });

export type ParseResult<C> = { type: "ignore" } | { type: "reply"; text: string } | { type: "command"; command: C };

const MINUTE = 60_000;
const UNIT_MS: Record<string, number> = { m: MINUTE, h: 60 * MINUTE, d: 24 * 60 * MINUTE, w: 7 * 24 * 60 * MINUTE };
/** Shortest and longest TTL `extend` accepts: below 10 minutes a preview would expire before it finished deploying. */
const MIN_TTL_MS = 10 * MINUTE;
export const MAX_TTL_MS = 30 * UNIT_MS.d!;
/** A command line longer than this is refused (no real command comes close). */
const MAX_COMMAND_LINE = 500;
/** How much of a first line we look at in a huge comment. */
const SCAN_LIMIT = 4096;

/**
 * User text made safe to quote in Markdown or Slack mrkdwn: letters, digits and `.-/:#+` kept, anything else
 * (backticks, `<>&*_~|@`, control and bidi characters, NUL) shown as `?`, cut to `max` characters.
 */
export function safeEcho(text: string, max = 32): string {
  const chars = Array.from(text.slice(0, max * 4)).slice(0, max + 1);
  const kept = chars
    .slice(0, max)
    .map((c) => (/^[\p{L}\p{N}.\-/:#+]$/u.test(c) ? c : "?"))
    .join("");
  return chars.length > max ? `${kept}…` : kept;
}

/** `30m`, `12h`, `3d`, `1w` → milliseconds, within [MIN_TTL_MS, max]. */
export function parseDuration(
  text: string,
  max = MAX_TTL_MS,
): { ok: true; ms: number } | { ok: false; reason: string } {
  const m = /^(\d{1,5})([mhdw])$/i.exec(text);
  if (!m)
    return {
      ok: false,
      reason: `\`${safeEcho(text)}\` is not a duration: use a number and a unit, like \`30m\`, \`12h\`, \`3d\` or \`1w\`.`,
    };
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  if (ms < MIN_TTL_MS) return { ok: false, reason: `\`${safeEcho(text)}\` is too short: the shortest is 10m.` };
  if (ms > max) return { ok: false, reason: `\`${safeEcho(text)}\` is too long: the longest is ${formatTtl(max)}.` };
  return { ok: true, ms };
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

function parseRepo(text: string): { owner: string; repo: string } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const owner = text.slice(0, slash);
  const repo = text.slice(slash + 1);
  if (!OWNER.test(owner) || !REPO.test(repo) || repo === "." || repo === "..") return undefined;
  return { owner, repo };
}

/** Strict `owner/repo#N` (GitHub login rules for the owner, GitHub's repository charset, N in 1..999999999). */
export function parseTarget(text: string): SlashTarget | undefined {
  const m = /^([^#]+)#([1-9][0-9]{0,8})$/.exec(text);
  if (!m) return undefined;
  const repo = parseRepo(m[1]!);
  return repo ? { ...repo, number: Number(m[2]) } : undefined;
}

const BACKUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;
/** A configured backup target's name (BACKUP_TARGETS). */
const BACKUP_TARGET = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
/** An abbreviated or full commit SHA. */
const SHA = /^[0-9a-f]{7,40}$/i;

/** Parse a PR comment body. */
export function parseComment(body: string, opts: { botName?: string } = {}): ParseResult<PreviewCommand> {
  if (typeof body !== "string") return { type: "ignore" };
  const line = firstNonBlankLine(body);
  if (line === undefined) return { type: "ignore" };
  const indent = /^[ \t]*/.exec(line)![0];
  if (indent.includes("\t") || indent.length >= 4) return { type: "ignore" };
  const rest = addressedRest(line.trim(), opts.botName);
  if (rest === undefined) return { type: "ignore" };
  if (line.length > MAX_COMMAND_LINE)
    return reply(`That \`/preview\` command is too long (over ${MAX_COMMAND_LINE} characters).`);
  const tokens = rest.split(/\s+/u).filter((t) => t.length > 0);
  const sub = tokens[0]?.toLowerCase();
  if (sub === undefined || sub === "help") return reply(COMMENT_HELP);
  const name = COMMENT_ACTIONS.find((n) => n === sub);
  if (!name) return unknownCommand(sub, COMMENT_ACTIONS, COMMENT_HELP);
  const split = splitArgs(name, tokens.slice(1));
  if ("reply" in split) return reply(split.reply);
  const args = parseArgs(name, split.args, split.flags, commentUsage(name));
  if ("reply" in args) return reply(args.reply);
  return { type: "command", command: { name, ...args.args } };
}

/** Parse the text of a Slack `/preview` slash command (what follows `/preview`). */
export function parseSlash(text: string): ParseResult<SlashCommand> {
  if (typeof text !== "string") return { type: "ignore" };
  if (text.length > MAX_COMMAND_LINE) return reply(`That command is too long (over ${MAX_COMMAND_LINE} characters).`);
  const tokens = text.split(/\s+/u).filter((t) => t.length > 0);
  const sub = tokens[0]?.toLowerCase();
  if (sub === undefined || sub === "help") return reply(SLACK_HELP);
  const name = SLACK_ACTIONS.find((n) => n === sub);
  if (!name) return unknownCommand(sub, SLACK_ACTIONS, SLACK_HELP);
  const split = splitArgs(name, tokens.slice(1));
  if ("reply" in split) return reply(split.reply);
  const usage = slashUsage(name);
  const subject = ACTIONS[name].slack.subject;
  const [first, ...rest] = split.args;
  if (subject === "none") return reply(SLACK_HELP);
  if (subject === "optional-repo") {
    if (split.args.length === 0) return { type: "command", command: { name } };
    const repo = split.args.length === 1 ? parseRepo(first!) : undefined;
    if (!repo) return reply(`Usage: \`${usage}\`.`);
    return { type: "command", command: { name, ...repo } };
  }
  const target = first === undefined ? undefined : parseTarget(first);
  if (!target && subject === "pull-or-target" && split.args.length === 1 && BACKUP_TARGET.test(first!)) {
    return { type: "command", command: { name, backupTarget: first! } };
  }
  if (!target) {
    const what = first === undefined ? " needs a pull request" : `: \`${safeEcho(first)}\` is not a pull request`;
    return reply(`\`/preview ${name}\`${what}; write it as \`owner/repo#123\`. Usage: \`${usage}\`.`);
  }
  const args = parseArgs(name, rest, split.flags, usage);
  if ("reply" in args) return reply(args.reply);
  return { type: "command", command: { name, ...target, ...args.args } };
}

/**
 * An action's arguments by their kind in the table: the grammar of each kind is here, once for both doors. `usage`
 * is the door's usage line for the action, quoted in every refusal.
 */
function parseArgs(
  name: keyof typeof ACTIONS,
  args: string[],
  flags: ReadonlySet<string>,
  usage: string,
): { args: CommandArgs } | { reply: string } {
  const out: CommandArgs = flags.has("--dry-run") ? { dryRun: true } : {};
  const kind: ArgKind = ACTIONS[name].args;
  switch (kind) {
    case "none":
      if (args.length > 0) return { reply: `\`/preview ${name}\` takes no arguments. Usage: \`${usage}\`.` };
      return { args: out };
    case "optional-sha":
      if (args.length > 1 || (args[0] !== undefined && !SHA.test(args[0])))
        return {
          reply: `Usage: \`${usage}\`: the commit is 7 to 40 hex digits, e.g. \`/preview ${name} 1a2b3c4\`.`,
        };
      return { args: args[0] ? { ...out, sha: args[0].toLowerCase() } : out };
    case "duration": {
      if (args.length !== 1)
        return { reply: `Usage: \`${usage}\`, e.g. 3d (\`30m\`, \`12h\`, \`3d\`, \`1w\`; at most 30d).` };
      const d = parseDuration(args[0]!);
      return d.ok ? { args: { ...out, ttlMs: d.ms } } : { reply: d.reason };
    }
    case "backup-name": {
      if (args.length !== 1) return { reply: `Usage: \`${usage}\`.` };
      const target = args[0]!;
      if (target.toLowerCase() === "latest") return { args: { ...out, target: "latest" } };
      if (BACKUP_NAME.test(target) && !target.includes("..")) return { args: { ...out, target } };
      return {
        reply: `\`${safeEcho(target)}\` is not a backup name: use \`latest\` or a name from the backup list.`,
      };
    }
  }
}

function reply(text: string): { type: "reply"; text: string } {
  return { type: "reply", text };
}

/** The first line holding a non-blank character, without its line break; looks at most SCAN_LIMIT chars of it. */
function firstNonBlankLine(body: string): string | undefined {
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf("\n", start);
    if (end < 0) end = body.length;
    const line = body.slice(start, Math.min(end, start + SCAN_LIMIT)).replace(/\r$/, "");
    if (/\S/u.test(line)) return line;
    start = end + 1;
  }
  return undefined;
}

/** What follows `/preview` (or `@botName`) when the line is addressed to the bot; undefined otherwise. */
function addressedRest(trimmed: string, botName: string | undefined): string | undefined {
  const prefixes = ["/preview"];
  if (botName) prefixes.push(`@${botName}[bot]`, `@${botName}`);
  for (const prefix of prefixes) {
    if (trimmed.length < prefix.length || trimmed.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase())
      continue;
    const rest = trimmed.slice(prefix.length);
    if (rest === "" || /^\s/u.test(rest)) return rest;
  }
  return undefined;
}

function splitArgs(
  name: keyof typeof ACTIONS,
  tokens: string[],
): { flags: Set<string>; args: string[] } | { reply: string } {
  const allowed: readonly string[] = ACTIONS[name].flags;
  const flags = new Set<string>();
  const args: string[] = [];
  for (const token of tokens) {
    if (!token.startsWith("-")) {
      args.push(token);
      continue;
    }
    const flag = token.toLowerCase();
    if (!allowed.includes(flag)) {
      const accepts = allowed.length
        ? `It accepts ${allowed.map((f) => `\`${f}\``).join(", ")}.`
        : "It takes no flags.";
      return { reply: `\`/preview ${name}\` does not know the flag \`${safeEcho(token)}\`. ${accepts}` };
    }
    flags.add(flag);
  }
  return { flags, args };
}

function unknownCommand(sub: string, names: readonly string[], help: string): { type: "reply"; text: string } {
  const near = nearest(sub, names);
  const hint = near ? ` Did you mean "/preview ${near}"?` : "";
  return reply(`Unknown command \`${safeEcho(sub)}\`.${hint}\n\n${help}`);
}

/** The closest known name within edit distance 2, if any (only for short words: a long token is no typo). */
function nearest(word: string, names: readonly string[]): string | undefined {
  if (word.length > 12) return undefined;
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word, name);
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
