/**
 * The one table of actions. Every list of commands the bot has is derived from it: the parser's names and flags
 * (intake/parse.ts), the help texts (intake/help.ts), the default minimum permissions and the fork rule
 * (services/github/authz.ts), the `permissions` keys of `.github/preview.yml` (config.ts), the Slack buttons
 * (handlers/slack.ts), what the intake pins and supersedes (intake/gate.ts) and the runner's handler map
 * (services/preview/runner.ts, typed so that a job action without a handler does not compile).
 *
 * Adding a command: a row here, its handler in the runner (when it runs as a job), and — only when it takes a new
 * kind of argument — the argument's grammar in intake/parse.ts. docs/architecture.md walks through it.
 */

/** A GitHub repository role, weakest first. */
export type Role = "none" | "read" | "triage" | "write" | "maintain" | "admin";

/** What an action takes after its name (and, in Slack, after the pull request). Grammar: intake/parse.ts. */
export type ArgKind = "none" | "optional-sha" | "duration" | "backup-name";

/** What a Slack command names: a pull request, a pull request or a backup target, or optionally a repository. */
export type SlackSubject = "pull" | "pull-or-target" | "optional-repo" | "none";

/** Who answers: a job on the queue (keyed per preview or per backup target), or the door itself (reads, help). */
export type AnsweredBy = "job" | "door";

export interface ActionSpec {
  /** The minimum repository role by default (a repository's `permissions` may change it when `configurable`). */
  readonly permission: Exclude<Role, "none">;
  readonly configurable: boolean;
  /** It runs the pull request's code: on a fork PR it needs a maintainer and deploys only the reviewed commit. */
  readonly forkPinned: boolean;
  /** A newer one drops what is queued for the preview and stops what is running (between steps). */
  readonly supersedes: boolean;
  readonly args: ArgKind;
  readonly flags: readonly string[];
  /** Offered in pull request comments, and who answers there. */
  readonly comment?: AnsweredBy;
  /** Offered as a Slack slash command, what it names, and who answers there. */
  readonly slack?: { readonly subject: SlackSubject; readonly by: AnsweredBy };
  /** Offered as a button on the bot's Slack messages (the button's value is the slash-command text). */
  readonly button: boolean;
  /** One line for the help texts. */
  readonly help: string;
}

export const ACTIONS = {
  deploy: {
    permission: "write",
    configurable: true,
    forkPinned: true,
    supersedes: true,
    args: "optional-sha",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "build and deploy the pull request's preview (with a SHA: exactly that commit, which must be the head)",
  },
  redeploy: {
    permission: "write",
    configurable: true,
    forkPinned: true,
    supersedes: true,
    args: "optional-sha",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "deploy again from the head commit (with a SHA: exactly that commit)",
  },
  destroy: {
    permission: "maintain",
    configurable: true,
    forkPinned: false,
    supersedes: true,
    args: "none",
    flags: ["--dry-run"],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "tear the preview down (`--dry-run` lists what would go)",
  },
  status: {
    permission: "read",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "door" },
    button: false,
    help: "show the preview's state and URL",
  },
  extend: {
    permission: "write",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "duration",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "keep the preview alive that much longer (`30m`, `12h`, `3d`, `1w`; at most 30d)",
  },
  sleep: {
    permission: "write",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "put the preview to sleep now (workloads scaled to 0; the next visit, deploy or `wake` brings it back)",
  },
  wake: {
    permission: "write",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    comment: "job",
    slack: { subject: "pull", by: "job" },
    button: true,
    help: "wake a sleeping preview (its replicas, CronJobs and routes as they were)",
  },
  backup: {
    permission: "write",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    comment: "job",
    slack: { subject: "pull-or-target", by: "job" },
    button: false,
    help: "back the preview's database up now (in Slack also `<target>`: a configured database)",
  },
  restore: {
    permission: "write",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "backup-name",
    flags: [],
    comment: "job",
    button: false,
    help: "restore the preview's database from a backup",
  },
  backups: {
    permission: "read",
    configurable: true,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    slack: { subject: "pull-or-target", by: "door" },
    button: false,
    help: "list the preview's database backups (or `<target>`: a configured database's)",
  },
  list: {
    permission: "read",
    configurable: false,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    slack: { subject: "optional-repo", by: "door" },
    button: false,
    help: "the previews you can see",
  },
  help: {
    permission: "read",
    configurable: false,
    forkPinned: false,
    supersedes: false,
    args: "none",
    flags: [],
    comment: "door",
    slack: { subject: "none", by: "door" },
    button: false,
    help: "this list",
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof ACTIONS;

type Table = typeof ACTIONS;
/** Actions offered in pull request comments. */
export type CommentAction = { [A in ActionName]: Table[A] extends { comment: AnsweredBy } ? A : never }[ActionName];
/** Actions offered as Slack slash commands. */
export type SlackAction = { [A in ActionName]: Table[A] extends { slack: object } ? A : never }[ActionName];
/** Actions that run as a preview job from some door: the runner has one handler for each. */
export type JobAction = {
  [A in ActionName]: Table[A] extends { comment: "job" } | { slack: { by: "job" } } ? A : never;
}[ActionName];
/** Actions a repository's `permissions` may set a role for. */
export type ConfigurableAction = { [A in ActionName]: Table[A] extends { configurable: true } ? A : never }[ActionName];

const NAMES = Object.keys(ACTIONS) as ActionName[];
const spec = (name: ActionName): ActionSpec => ACTIONS[name];

export const COMMENT_ACTIONS: readonly CommentAction[] = NAMES.filter((n) => spec(n).comment) as CommentAction[];
export const SLACK_ACTIONS: readonly SlackAction[] = NAMES.filter((n) => spec(n).slack) as SlackAction[];
export const BUTTON_ACTIONS: readonly ActionName[] = NAMES.filter((n) => spec(n).button);
/** The `permissions` keys of `.github/preview.yml` (config.ts). */
export const CONFIGURABLE_ACTIONS = NAMES.filter((n) => spec(n).configurable) as [
  ConfigurableAction,
  ...ConfigurableAction[],
];

/** The default minimum role of every action. */
export const DEFAULT_PERMISSIONS: Readonly<Record<ActionName, Role>> = Object.fromEntries(
  NAMES.map((n) => [n, spec(n).permission]),
) as Record<ActionName, Role>;
