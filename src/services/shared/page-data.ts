/**
 * What the pages show, as data. The wiring implements `PageData` from the cluster directory (PreviewSummary), the run
 * reports (the last deploy's steps and diagnosis), the pods' recent logs and the backups catalog; the pages only read
 * it and decide, per visitor, what may be shown. Values here are shown as text (HTML-escaped); logs and diagnoses are
 * redacted and size-capped again by the page whatever the wiring did.
 */
import type { BackupTargetView, PreviewSummary } from "./dispatch.js";

export type { BackupTargetView };
import type { WorkloadHealth } from "./preview.js";
import type { RunState, StepRecord } from "./run-report.js";

/** Where a bypass token is presented: the header (health checks, E2E runs), or the query (`?preview-bypass=`). */
export const BYPASS_HEADER = "x-preview-bypass";
export const BYPASS_PARAM = "preview-bypass";

export interface PreviewKeyParts {
  owner: string;
  repo: string;
  number: number;
}

/** The last deploy (or teardown) run of a preview, from its run report. */
export interface DeploySummary {
  state: RunState;
  /** "push by @octocat", "/preview deploy by @octocat", "sweeper". */
  trigger?: string;
  startedAt: string;
  finishedAt?: string;
  /** One sentence: "Preview ready at https://…", "Roll-out failed: web 0/1 ready: ImagePullBackOff". */
  summary?: string;
  steps: StepRecord[];
}

/** Whether a preview is asleep (scaled to zero while idle), once previews can sleep. */
export interface SleepState {
  asleep: boolean;
  /** ISO time it fell asleep or last woke. */
  since?: string;
}

/** One row of the list. */
export interface PagePreview extends PreviewSummary {
  /** `github`: the preview URL needs sign-in; `public`: anyone with the URL. */
  access?: "public" | "github";
  createdAt?: string;
  /** More URLs than the main one (other hosts or paths the preview serves). */
  links?: Array<{ title: string; url: string }>;
  lastDeploy?: DeploySummary;
  sleep?: SleepState;
}

/** One preview's page: its row plus what went wrong, if anything. */
export interface PreviewDetail extends PagePreview {
  /** The last deploy's diagnosis (pod phases, waiting reasons, events). */
  diagnosis?: string;
  workloads?: WorkloadHealth[];
}

/** Recent log lines of one container of the preview. */
export interface PodLog {
  pod: string;
  container: string;
  text: string;
  /** The wiring already cut older lines. */
  truncated?: boolean;
}

/** The read side the pages use. */
export interface PageData {
  previews(): Promise<PagePreview[]>;
  preview(key: PreviewKeyParts): Promise<PreviewDetail | undefined>;
  logs(key: PreviewKeyParts): Promise<PodLog[]>;
  backups(): Promise<BackupTargetView[]>;
}

/** What the bot knows about a preview host (from its namespace's access annotations). */
export interface PreviewHost extends PreviewKeyParts {
  access: "public" | "github";
  /** This deploy's bypass token (health checks, E2E), when the preview has one. */
  bypassToken?: string;
}

/**
 * Preview host name (lowercase, no port) → the preview it serves. `fresh`: the caller saw something a recent listing
 * may not know yet (a host just deployed, a token just rotated), so read again (the source bounds how often).
 */
export type PreviewForHost = (
  hostname: string,
  opts?: { fresh?: boolean },
) => PreviewHost | undefined | Promise<PreviewHost | undefined>;
