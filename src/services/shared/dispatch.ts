/**
 * What the doors (GitHub webhooks, PR comments, Slack) hand work to. Doors parse and authorize, then call
 * `dispatch` and return at once; the work runs as a keyed job (one at a time per preview key, newer deploys
 * supersede older ones). Implemented by the queue wiring (src/services/jobs/dispatcher.ts). The job's shape lives
 * here, below both the queue and the runner: the queue knows job kinds only as names.
 */
export type PreviewAction = "deploy" | "redeploy" | "destroy" | "status" | "extend" | "backup" | "restore";

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
  source: "webhook" | "comment" | "slack" | "sweeper";
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
}

/** A Slack user's request: answered ephemerally in its channel, through its response_url when there is one. */
export interface SlackReplyTarget {
  channel: string;
  user: string;
  responseUrl?: string;
}

export interface PreviewRequest {
  action: PreviewAction;
  owner: string;
  repo: string;
  number: number;
  /** Who asked: a GitHub login (Slack users are mapped to one before dispatch), or "github" for webhook events. */
  actor: string;
  /** Where it came from, for reports. */
  source: "webhook" | "comment" | "slack" | "sweeper";
  dryRun?: boolean;
  /** For `extend`: the new TTL in milliseconds. */
  ttlMs?: number;
  /** For `restore`: a backup blob name, or `latest` (of the repository's `database.seedFrom` target). */
  backup?: string;
  /** Slack response target, when the request came from Slack. */
  slack?: SlackReplyTarget;
  /** For `deploy`/`redeploy`: deploy exactly this commit (see PreviewJob.sha). */
  sha?: string;
  /** GitHub delivery id, for idempotent intake and log correlation. */
  deliveryId?: string;
  /** The GitHub App installation, when the door knows it (webhooks do; Slack does not). */
  installationId?: number;
  /** For a sweeper's destroy: keep the preview's databases, and why. */
  keepDatabases?: string;
}

export interface Dispatcher {
  dispatch(request: PreviewRequest): Promise<{ jobId: string; deduplicated: boolean }>;
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
  state: "queued" | "deploying" | "ready" | "failed" | "destroying" | "destroyed" | "superseded" | "unknown";
  url?: string;
  namespace?: string;
  database?: string;
  expiresAt?: string;
  updatedAt?: string;
  /** Short reason when failed. */
  reason?: string;
  prUrl?: string;
}

/** Read side for the doors: what previews exist and how they are. */
export interface PreviewDirectory {
  list(filter?: { owner?: string; repo?: string }): Promise<PreviewSummary[]>;
  get(key: { owner: string; repo: string; number: number }): Promise<PreviewSummary | undefined>;
}
