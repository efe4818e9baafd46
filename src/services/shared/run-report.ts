/**
 * What one run (deploy or teardown of a preview) did, step by step. The runner fills it in; the Reporter renders it
 * to GitHub (check run, deployment, sticky comment) and the Notifier to Slack — the same facts everywhere.
 */
import type { CostFigure } from "./cost.js";
import type { PreviewNames, PreviewRef, WorkloadHealth } from "./preview.js";

export type StepStatus = "pending" | "running" | "success" | "failure" | "skipped";

export interface StepRecord {
  /** Short imperative name: "Render manifests", "Apply", "Roll out", "Health checks", "Database". */
  name: string;
  status: StepStatus;
  startedAt?: string;
  durationMs?: number;
  /** One line, shown next to the step (counts, reasons). Already redacted. */
  detail?: string;
}

export type RunState = "queued" | "in_progress" | "success" | "failure" | "superseded" | "cancelled";

export interface RunReport {
  kind: "deploy" | "destroy";
  ref: PreviewRef;
  names: PreviewNames;
  state: RunState;
  steps: StepRecord[];
  /**
   * One sentence for titles and Slack: "Preview ready at https://…", "Roll-out failed: web 0/1 ready:
   * ImagePullBackOff".
   */
  summary: string;
  url?: string;
  /** The preview's further URLs (route.expose after the first), by name; the deployment keeps `url`, the primary. */
  extraUrls?: Array<{ name: string; url: string }>;
  workloads?: WorkloadHealth[];
  database?: { name: string; status: string };
  /** The images the preview runs by digest (images[]), with the tag each was found by. */
  images?: Array<{
    repository: string;
    tag: string;
    digest: string;
    /** The base branch it was reused from. */ reusedFrom?: string;
  }>;
  links?: Array<{ title: string; url: string }>;
  /** Objects applied / pruned, for the check run's details. */
  applied?: string[];
  pruned?: string[];
  /** Expiry of the preview (ISO), if a TTL applies. */
  expiresAt?: string;
  /** Its sleep: after how long without activity it sleeps, and since when it is asleep (absent: awake). */
  sleep?: { afterMs?: number; asleepSince?: string };
  /** What it cost so far (OpenCost, or the operator's prices × requests). */
  cost?: CostFigure;
  /** Why it failed, with what was being done (redacted). */
  error?: string;
  /**
   * When the preflight refused the deploy (before anything of the PR was applied): one line per refusal, naming the
   * object, the file it came from and what to set (redacted). The check run lists them.
   */
  refusals?: string[];
  startedAt: string;
  finishedAt?: string;
  /** The repository's Slack channel (`slack.channel` in its config), when it sets one. */
  slackChannel?: string;
  /** Who or what started the run ("push by @octocat", "/preview deploy by @octocat", "sweeper"). */
  trigger: string;
  /** State `queued`: where the deploy stands in the line for a seat (fleet caps). */
  queue?: { position: number; of: number; reason: string };
  /** The preview's page on the bot (its last deploy, logs), when the page is on. */
  pageUrl?: string;
}

/** Where reports go on GitHub. One instance per run, bound to the installation's Octokit. */
export interface Reporter {
  /** The run started: check run in progress. */
  started(report: RunReport): Promise<void>;
  /** A step changed (cheap: the check run is updated in batches, never one write per call). */
  progress(report: RunReport): Promise<void>;
  /**
   * The run ended: check run concluded; a success or failure gets the commit's deployment and its one status; the
   * sticky comment is edited when its text changed (a superseded run leaves both to the newer run).
   */
  finished(report: RunReport): Promise<void>;
  /** The preview is gone: deployment inactive, sticky comment says so. */
  tornDown(report: RunReport): Promise<void>;
  /** The deploy waits for a seat (state `queued`): check run queued, sticky comment says where it stands. */
  queued(report: RunReport): Promise<void>;
  /** The preview changed outside a run (it fell asleep, it woke): the sticky comment only. */
  stateChanged(report: RunReport): Promise<void>;
}
