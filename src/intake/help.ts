/**
 * Help texts and usage lines for `/preview` in PR comments and in Slack, derived from the table of actions
 * (src/actions.ts). Static text only: nothing the user typed ends up here.
 */
import {
  ACTIONS,
  COMMENT_ACTIONS,
  SLACK_ACTIONS,
  type ActionName,
  type ArgKind,
  type CommentAction,
  type SlackAction,
  type SlackSubject,
} from "../actions.js";

/** How each kind of argument is written in usage lines, in a comment and in Slack. */
const ARG_USAGE: Record<ArgKind, { comment: string; slack: string }> = {
  none: { comment: "", slack: "" },
  "optional-sha": { comment: " [<commit sha>]", slack: " [<commit sha>]" },
  duration: { comment: " <duration>", slack: " 3d" },
  "backup-name": { comment: " <backup-name|latest>", slack: " <backup-name|latest>" },
};
const SUBJECT_USAGE: Record<SlackSubject, string> = {
  pull: " owner/repo#N",
  "pull-or-target": " owner/repo#N|<backup target>",
  "optional-repo": " [owner/repo]",
  none: "",
};
const flagUsage = (name: ActionName) => ACTIONS[name].flags.map((f) => ` [${f}]`).join("");

/** `/preview extend <duration>`: an action's usage in a comment (argument kinds from the table). */
export function commentUsage(name: CommentAction): string {
  return `/preview ${name}${ARG_USAGE[ACTIONS[name].args].comment}${flagUsage(name)}`;
}

/** `/preview extend owner/repo#N 3d`: an action's usage in Slack. */
export function slashUsage(name: SlackAction): string {
  const spec = ACTIONS[name];
  return `/preview ${name}${SUBJECT_USAGE[spec.slack.subject]}${ARG_USAGE[spec.args].slack}${flagUsage(name)}`;
}

/** Markdown table cells need `|` escaped. */
const cell = (text: string) => text.replace(/\|/g, "\\|");

export const COMMENT_HELP = [
  "**preview-bot commands** (type them as the first line of a PR comment):",
  "",
  "| command | what it does |",
  "|---|---|",
  ...COMMENT_ACTIONS.map((name) => `| \`${cell(commentUsage(name))}\` | ${cell(ACTIONS[name].help)} |`),
].join("\n");

export const SLACK_HELP = [
  "*preview-bot* — `/preview <command>`:",
  ...SLACK_ACTIONS.map((name) => `• \`${slashUsage(name).replace(/^\/preview /, "")}\` — ${ACTIONS[name].help}`),
].join("\n");
