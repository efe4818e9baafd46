/**
 * Comment and slash-command text → `ignore | reply | command`, before any API call (modelled on Atlantis'
 * comment_parser.go). Pure and total: never throws, whatever the input (1 MB, NUL bytes, unicode, shell
 * metacharacters), and never echoes user text raw — anything quoted back goes through `safeEcho`.
 *
 * Comment rules (decided here, tested in test/commands/parse.test.ts):
 * - Only the first non-blank line counts. It must start with `/preview` (case-insensitive, then a space or the
 *   end of the line), or with `@<botName>` when `botName` is given. Anything else is ignored: prose, quoted
 *   replies (`> /preview deploy`), code fences, indented code (a tab or 4+ spaces), a command on a later line.
 * - Lines after the command line are allowed and ignored: people add a note under the command ("deploying to
 *   show design review"), and the command line alone decides what happens.
 */
import { COMMENT_HELP, SLACK_HELP } from "./help.js";

export type CommandName = "deploy" | "redeploy" | "destroy" | "status" | "extend" | "backup" | "restore" | "help";

export interface PreviewCommand {
  name: CommandName;
  /** `deploy`/`redeploy`: the commit to deploy, pinned (7–40 hex digits, lower case). */
  sha?: string;
  dryRun?: boolean;
  /** `extend`: the new TTL in milliseconds. */
  ttlMs?: number;
  /** `restore`: the backup name, or `latest`. */
  target?: string;
}

export interface SlashTarget {
  owner: string;
  repo: string;
  number: number;
}

export type SlashCommand =
  | { name: "help" }
  | { name: "list"; owner?: string; repo?: string }
  | ({ name: "status" | "backups" } & SlashTarget)
  | ({ name: "backup" } & SlashTarget)
  | ({ name: "deploy" | "redeploy"; sha?: string } & SlashTarget)
  | ({ name: "destroy"; dryRun?: boolean } & SlashTarget)
  | ({ name: "extend"; ttlMs: number } & SlashTarget)
  /** A bot-level backup target (issue "backups"): `backup shop`, `backups shop`. */
  | { name: "backup" | "backups"; backupTarget: string };

export type ParseResult<C> = { type: "ignore" } | { type: "reply"; text: string } | { type: "command"; command: C };

const MINUTE = 60_000;
const UNIT_MS: Record<string, number> = { m: MINUTE, h: 60 * MINUTE, d: 24 * 60 * MINUTE, w: 7 * 24 * 60 * MINUTE };
/** Shortest and longest TTL `extend` accepts: below 10 minutes a preview would expire before it finished deploying. */
export const MIN_TTL_MS = 10 * MINUTE;
export const MAX_TTL_MS = 30 * UNIT_MS.d!;
/** A command line longer than this is refused (no real command comes close). */
const MAX_COMMAND_LINE = 500;
/** How much of a first line we look at in a huge comment. */
const SCAN_LIMIT = 4096;

const COMMENT_NAMES: readonly CommandName[] = [
  "deploy",
  "redeploy",
  "destroy",
  "status",
  "extend",
  "backup",
  "restore",
  "help",
];
const SLASH_NAMES = ["list", "status", "deploy", "redeploy", "destroy", "extend", "backup", "backups", "help"] as const;
type SlashName = (typeof SLASH_NAMES)[number];

/** Which flags each command takes (everything else starting with `-` is an unknown flag). */
const FLAGS: Partial<Record<string, readonly string[]>> = { destroy: ["--dry-run"] };

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
  if (ms > max)
    return { ok: false, reason: `\`${safeEcho(text)}\` is too long: the longest is ${formatDuration(max)}.` };
  return { ok: true, ms };
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["w", UNIT_MS.w!],
    ["d", UNIT_MS.d!],
    ["h", UNIT_MS.h!],
  ] as const) {
    if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / MINUTE)}m`;
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

export function parseRepo(text: string): { owner: string; repo: string } | undefined {
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
  const name = COMMENT_NAMES.find((n) => n === sub);
  if (!name) return unknownCommand(sub, COMMENT_NAMES, COMMENT_HELP);
  const split = splitArgs(name, tokens.slice(1));
  if ("reply" in split) return reply(split.reply);
  const { flags, args } = split;
  const command: PreviewCommand = { name };
  if (flags.has("--dry-run")) command.dryRun = true;
  switch (name) {
    case "extend": {
      if (args.length !== 1)
        return reply(
          "Usage: `/preview extend <duration>`, e.g. `/preview extend 3d` (`30m`, `12h`, `3d`, `1w`; at most 30d).",
        );
      const d = parseDuration(args[0]!);
      if (!d.ok) return reply(d.reason);
      command.ttlMs = d.ms;
      break;
    }
    case "deploy":
    case "redeploy": {
      if (args.length > 1 || (args[0] !== undefined && !SHA.test(args[0])))
        return reply(
          `Usage: \`/preview ${name} [<commit sha>]\`: the commit is 7 to 40 hex digits, e.g. \`/preview ${name} 1a2b3c4\`.`,
        );
      if (args[0]) command.sha = args[0].toLowerCase();
      break;
    }
    case "restore": {
      if (args.length !== 1) return reply("Usage: `/preview restore <backup-name|latest>`.");
      const target = args[0]!;
      if (target.toLowerCase() === "latest") command.target = "latest";
      else if (BACKUP_NAME.test(target) && !target.includes("..")) command.target = target;
      else return reply(`\`${safeEcho(target)}\` is not a backup name: use \`latest\` or a name from the backup list.`);
      break;
    }
    default:
      if (args.length > 0) return reply(`\`/preview ${name}\` takes no arguments.`);
  }
  return { type: "command", command };
}

/** Parse the text of a Slack `/preview` slash command (what follows `/preview`). */
export function parseSlash(text: string): ParseResult<SlashCommand> {
  if (typeof text !== "string") return { type: "ignore" };
  if (text.length > MAX_COMMAND_LINE) return reply(`That command is too long (over ${MAX_COMMAND_LINE} characters).`);
  const tokens = text.split(/\s+/u).filter((t) => t.length > 0);
  const sub = tokens[0]?.toLowerCase();
  if (sub === undefined || sub === "help") return reply(SLACK_HELP);
  const name = SLASH_NAMES.find((n) => n === sub);
  if (!name) return unknownCommand(sub, SLASH_NAMES, SLACK_HELP);
  const split = splitArgs(name, tokens.slice(1));
  if ("reply" in split) return reply(split.reply);
  const { flags, args } = split;
  if (name === "list") {
    if (args.length === 0) return { type: "command", command: { name } };
    const repo = args.length === 1 ? parseRepo(args[0]!) : undefined;
    if (!repo) return reply("Usage: `/preview list [owner/repo]`.");
    return { type: "command", command: { name, ...repo } };
  }
  const usage = slashUsage(name);
  const target = args[0] === undefined ? undefined : parseTarget(args[0]);
  if (
    !target &&
    (name === "backup" || name === "backups") &&
    args.length === 1 &&
    /^[a-z0-9][a-z0-9_-]{0,62}$/i.test(args[0]!)
  ) {
    return { type: "command", command: { name, backupTarget: args[0]! } };
  }
  if (!target) {
    const what = args[0] === undefined ? " needs a pull request" : `: \`${safeEcho(args[0])}\` is not a pull request`;
    return reply(`\`/preview ${name}\`${what}; write it as \`owner/repo#123\`. Usage: \`${usage}\`.`);
  }
  if (name === "extend") {
    if (args.length !== 2) return reply(`Usage: \`${usage}\`.`);
    const d = parseDuration(args[1]!);
    if (!d.ok) return reply(d.reason);
    return { type: "command", command: { name, ...target, ttlMs: d.ms } };
  }
  if (name === "deploy" || name === "redeploy") {
    if (args.length === 2 && SHA.test(args[1]!))
      return { type: "command", command: { name, ...target, sha: args[1]!.toLowerCase() } };
    return args.length === 1 ? { type: "command", command: { name, ...target } } : reply(`Usage: \`${usage}\`.`);
  }
  if (args.length !== 1) return reply(`Usage: \`${usage}\`.`);
  if (name === "destroy")
    return {
      type: "command",
      command: flags.has("--dry-run") ? { name, ...target, dryRun: true } : { name, ...target },
    };
  if (name === "help") return reply(SLACK_HELP);
  return { type: "command", command: name === "backup" ? { name, ...target } : { name, ...target } }; // (narrows the union)
}

function slashUsage(name: SlashName): string {
  if (name === "extend") return "/preview extend owner/repo#N 3d";
  if (name === "destroy") return "/preview destroy owner/repo#N [--dry-run]";
  if (name === "backup" || name === "backups") return `/preview ${name} owner/repo#N|<backup target>`;
  if (name === "deploy" || name === "redeploy") return `/preview ${name} owner/repo#N [<commit sha>]`;
  return `/preview ${name} owner/repo#N`;
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

function splitArgs(name: string, tokens: string[]): { flags: Set<string>; args: string[] } | { reply: string } {
  const allowed = FLAGS[name] ?? [];
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
