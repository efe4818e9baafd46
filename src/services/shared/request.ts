/**
 * The one request type every door hands the intake: who asked, about what (a pull request, a configured backup
 * target, or the fleet), the action and its arguments from the table (src/actions.ts), which door it came through
 * and where the answer goes. The doors and the sweeper build it; the intake's gate (src/intake/gate.ts) decides on it.
 * It lives in shared/ so that the sweeper (preview/reconcile) can submit requests without importing the intake.
 */
import type { ActionName } from "../../actions.js";
import type { SlackReplyTarget } from "./dispatch.js";

/** What an action's arguments parse to (the same fields in comments and in Slack; intake/parse.ts). */
export interface CommandArgs {
  /** `deploy`/`redeploy`: the commit to deploy, pinned (7–40 hex digits, lower case). */
  sha?: string;
  dryRun?: boolean;
  /** `extend`: the new TTL in milliseconds. */
  ttlMs?: number;
  /** `restore`: the backup name, or `latest`. */
  target?: string;
}

/**
 * Where a request came in. People use `comment` and `slack`; `visitor` is someone opening a sleeping preview's URL
 * (the wake door: it may only wake); the others are the bot's own.
 */
export type Door = "webhook" | "comment" | "slack" | "sweeper" | "schedule" | "visitor";

export interface PullSubject {
  kind: "pull";
  owner: string;
  repo: string;
  number: number;
  /** The GitHub App installation, when the door knows it (webhooks and comments do; Slack does not). */
  installationId?: number;
}

/** What a request is about. */
export type Subject =
  | PullSubject
  /** A configured backup target (`BACKUP_TARGETS`): Slack `backup <target>`, the schedule. */
  | { kind: "target"; name: string }
  /** Every preview (Slack `list`), optionally of one repository. */
  | { kind: "fleet"; owner?: string; repo?: string };

export interface Request {
  door: Door;
  action: ActionName;
  subject: Subject;
  /** A person's GitHub login (Slack users are mapped to one by the door); for the bot's own doors, what it is. */
  actor: string;
  args: CommandArgs;
  /** "push by @octocat", "/preview deploy by @octocat": shown in reports. Derived from door and actor when absent. */
  trigger?: string;
  /** Where to answer a Slack user (results, refusals). */
  slack?: SlackReplyTarget;
  /** For idempotent intake (X-GitHub-Delivery, a schedule slot) and log correlation. */
  deliveryId?: string;
  /** `comment`: when the comment was written, by GitHub's clock (decides the reviewed commit of a fork PR). */
  commentedAt?: string;
  /** `webhook`: the event's facts. */
  event?: {
    /** The pull_request action (`opened`, `synchronize`, …). */
    action?: string;
    /** The label a `labeled` event added. */
    label?: string;
    /** The check or workflow whose success this is. */
    checkName?: string;
    /** The PR's head as of the event (GitHub's clock), and whether it comes from a fork. */
    head?: { sha: string; at: string; fork: boolean };
  };
  /** `sweeper`: a destroy that keeps the databases, and why. */
  keepDatabases?: string;
}

export function isPerson(door: Door): boolean {
  return door === "comment" || door === "slack";
}

/** "/preview deploy by @octocat", "Slack /preview backup by @octocat", or the door's own trigger. */
export function triggerOf(req: Request): string {
  if (req.trigger) return req.trigger;
  const what =
    req.door === "comment"
      ? `/preview ${req.action}`
      : req.door === "slack"
        ? `Slack /preview ${req.action}`
        : req.action;
  return `${what} by @${req.actor}`;
}
