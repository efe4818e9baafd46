/**
 * The jobs the intake (src/intake/gate.ts) puts on the queue, below both the queue and the runner: the queue knows
 * job kinds only as names. A `preview` job is keyed `owner/repo#number` (one at a time per preview, newer deploys
 * supersede older ones); a `backup` job is keyed per configured backup target. The read side the doors and pages show
 * (PreviewSummary, PreviewDirectory) is here too.
 */
import type { JobAction } from "../../actions.js";
import type { PreviewNames, PreviewRef } from "./preview.js";
import type { PreviewState } from "./state.js";

export const PREVIEW_JOB = "preview";
export const BACKUP_JOB = "backup";

/** The actions a preview job runs (the table's job actions; the runner has a handler for each). */
export type PreviewAction = JobAction;

/** One unit of work for the runner, as the queue stores it (kind `preview`, keyed `owner/repo#number`). */
export interface PreviewJob {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  /** What asked: "push by @octocat", "/preview deploy by @octocat". */
  trigger: string;
  /** The GitHub login that asked, for commands (replies mention them). */
  actor?: string;
  /** For `restore`: the backup to restore (`latest` or a blob name). */
  backup?: string;
  /** The webhook delivery that caused the job (X-GitHub-Delivery), for log correlation. */
  deliveryId?: string;
  source: "webhook" | "comment" | "slack" | "sweeper" | "visitor";
  action: PreviewAction;
  dryRun?: boolean;
  ttlMs?: number;
  /** The pull_request action that caused a webhook job (`opened`, `synchronize`, …). */
  event?: string;
  /** The label a `labeled` event added (deploys only when it is the trigger label). */
  labeled?: string;
  /** The check/workflow whose success caused this job (deploys only when it is in trigger.afterChecks). */
  checkName?: string;
  /** For a sweeper's destroy: keep the preview's databases, and why (its repository is archived or not enrolled). */
  keepDatabases?: string;
  /**
   * The commit this job must deploy, and only it (a fork PR's reviewed commit, or `/preview deploy <sha>`). When the
   * PR's head is another commit by the time the job runs (or retries), the job refuses instead of deploying it.
   */
  sha?: string;
  /** Where to answer a Slack request (results of status, backup, refusals go there, not to the PR). */
  slack?: SlackReplyTarget;
  /**
   * Set when the fleet started this job from its line: the commit (and names) its queued check run was written for,
   * and since when it waited. The run concludes that check run when it deploys another commit, or nothing.
   */
  fromLine?: { ref: PreviewRef; names: PreviewNames; trigger: string; since: string };
}

/** A Slack user's request: answered ephemerally in its channel, through its response_url when there is one. */
export interface SlackReplyTarget {
  channel: string;
  user: string;
  responseUrl?: string;
}

/** Answer a Slack user's request (ephemeral, through its response_url when there is one). Never throws. */
export type AnswerSlack = (target: SlackReplyTarget, markdown: string) => Promise<void>;

/** One backup of a configured target (BACKUP_TARGETS), from the schedule, Slack or the CLI. */
export interface BackupJob {
  target: string;
  /** "schedule", "Slack /preview backup by @octocat". */
  trigger: string;
  /** Answer this Slack user when it is done (besides the announcement every backup gets). */
  slack?: SlackReplyTarget;
}

/** The current state of one preview, as the doors show it (Slack `/preview list|status`, PR `/preview status`). */
export interface PreviewSummary {
  key: string;
  owner: string;
  repo: string;
  number: number;
  title?: string;
  branch?: string;
  sha?: string;
  state: PreviewState;
  url?: string;
  /** Further URLs of the preview, by name (route.expose after the first). */
  extraUrls?: Array<{ name: string; url: string }>;
  namespace?: string;
  database?: string;
  expiresAt?: string;
  updatedAt?: string;
  /** Short reason when failed. */
  reason?: string;
  prUrl?: string;
  /** Asleep since (ISO-8601); absent while awake. */
  asleepSince?: string;
  /** What it cost so far, as people read it (`≈ $1.20 (estimate; asleep 40 % of its life)`). */
  cost?: string;
  /** The preview's page on the bot (last deploy, logs), when the page is on. */
  pageUrl?: string;
  /** A deploy waiting for a seat (state `queued`): where it stands in line and which cap keeps it waiting. */
  queue?: QueueStanding;
}

/** Where a deploy waiting for a seat stands: position N of M, and why it waits. */
export interface QueueStanding {
  position: number;
  of: number;
  reason: string;
}

/** Read side for the doors: what previews exist and how they are. */
export interface PreviewDirectory {
  list(filter?: { owner?: string; repo?: string }): Promise<PreviewSummary[]>;
  get(key: { owner: string; repo: string; number: number }): Promise<PreviewSummary | undefined>;
}

/** One backup, as the doors and the page list it. */
export interface BackupListing {
  name: string;
  createdAt?: string;
  sizeBytes?: number;
}

/** Read side of the backups for the doors and the page (absent without backup storage). */
export interface BackupReads {
  /** The backups of one preview's database(s). */
  ofPreview(key: { owner: string; repo: string; number: number }): Promise<BackupListing[]>;
  /** The configured backup targets' names. */
  targets(): string[];
  /** The backups of one configured target. */
  ofTarget(name: string): Promise<BackupListing[]>;
  /** Every configured target as the page shows it: who may see it, its last backup (time, size, verified), next run. */
  overview?(now?: Date): Promise<BackupTargetView[]>;
}

/** A backup target as the page shows it (only to admins and to readers of one of its allowed repositories). */
export interface BackupTargetView {
  name: string;
  /** `owner/repo` or `owner/*`; none: admins only. */
  allowedRepos?: readonly string[];
  lastSuccess?: string;
  sizeBytes?: number;
  /** ISO time the last backup was verified by a restore, if it was. */
  verified?: string;
  nextRun?: string;
  /** The last run failed: why (redacted). */
  lastError?: string;
}
