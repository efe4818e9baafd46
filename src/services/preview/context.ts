/**
 * What every preview pipeline (deploy, destroy) and command gets: the boundaries it drives, and the small helpers
 * they share. The runner builds nothing itself; src/deps.ts passes the real clients in, tests pass the same ones
 * pointed at test parts.
 */
import { redactText, type Logger } from "../../logger.js";
import type { PreviewBackups } from "../data/backups/previews.js";
import type { Notifier } from "../chat/notifier.js";
import type { GitHubClients } from "../github/app-clients.js";
import type { Metrics } from "../metrics.js";
import { systemOf } from "../shared/errors.js";
import type { PreviewJob, SlackReplyTarget } from "../shared/dispatch.js";
import {
  previewKey,
  type AccessGrants,
  type Cluster,
  type Databases,
  type PreviewNames,
  type PreviewRef,
} from "../shared/preview.js";
import type { RunReport } from "../shared/run-report.js";
import type { Fleet } from "./fleet/fleet.js";
import type { SleepControl } from "../shared/sleep.js";
import type { GuardrailSettings } from "./guardrails/namespace-guardrails.js";
import type { AllowEntry } from "./render/app-secrets.js";
import type { ImageDeps } from "./images/image-deps.js";
import type { Renderer } from "./render/index.js";
import type { CostSettings } from "./sleep/cost.js";

/** What the runner needs for sleep and wake (absent: the bot cannot reach its own Service, so nothing sleeps). */
export interface PreviewSleepDeps {
  control: SleepControl;
  /** PREVIEW_SLEEP_AFTER: the idle period of repositories that set no `sleep.after`. */
  defaultAfterMs?: number;
  /** How long a wake waits for the workloads to be ready before it restores the routes anyway. */
  wakeTimeoutMs: number;
  cost: CostSettings;
}

export interface RunnerDeps {
  cluster: Cluster;
  renderer: Renderer;
  /** Absent when the bot has no PREVIEW_DATABASE_URL. */
  databases?: Databases;
  /** Absent when backups (blob storage) are not configured. */
  backups?: PreviewBackups;
  /** Installation-scoped Octokits for jobs, and a Reporter per run (check run, deployment, sticky comment). */
  github: Pick<GitHubClients, "octokitFor" | "reporterFor">;
  /** Slack (or nothing): told about every finished run. Never throws. */
  notifier?: Pick<Notifier, "notifyRun">;
  /** Runs and API errors, counted. */
  metrics?: Pick<Metrics, "observeRun" | "apiError">;
  /** Answer a Slack user's request (ephemeral); absent without Slack. */
  answerSlack?(target: SlackReplyTarget, markdown: string): Promise<void>;
  /** Fork PRs get `database.seedFrom` data too (SEED_FORK_PREVIEWS); off by default. */
  seedForkPreviews?: boolean;
  /** Where `secrets[].from` may copy from (PREVIEW_SECRET_SOURCES) and whether forks get them; absent: nowhere. */
  appSecrets?: { sources: readonly AllowEntry[]; forks: boolean };
  logger: Logger;
  workDir: string;
  namespaceDeleteTimeoutMs: number;
  protectedNamespaces?: string[];
  /** The bot's guardrail bounds for every preview namespace (a repository may only tighten them). */
  guardrails: GuardrailSettings;
  /** Sleep and wake, and cost per preview; absent: nothing sleeps (no PREVIEW_BOT_SERVICE and no bot namespace). */
  sleep?: PreviewSleepDeps;
  /** Resolving images to digests, waiting for missing ones, the pull secret (the deploy's Images step). */
  images: ImageDeps;
  fetchImpl?: typeof fetch;
  healthIntervalMs?: number;
  e2ePollMs?: number;
  /** Seats for running previews (caps and the fair line); absent: no caps and nothing counted. */
  fleet?: Fleet;
  /** The bot's expiry: for repositories without `ttl` (default), and the longest any preview lives (max). */
  ttl?: { defaultMs?: number; maxMs?: number };
  /** The preview page and its sign-in, when on: a preview's page, and a deploy's bypass token (registered secret). */
  page?: PreviewPageLinks;
  /** The objects protected previews need in the bot's own namespace (Gateway API ReferenceGrants). */
  accessGrants?: AccessGrants;
}

/** The expiry a deploy sets: the job's, else the repository's `ttl`, else the bot's default; never past the bot's max. */
export function effectiveTtl(deps: Pick<RunnerDeps, "ttl">, asked: number | undefined): number | undefined {
  const ttl = asked ?? deps.ttl?.defaultMs;
  const max = deps.ttl?.maxMs;
  if (ttl === undefined) return max;
  return max === undefined ? ttl : Math.min(ttl, max);
}

export interface PreviewPageLinks {
  previewUrl(key: { owner: string; repo: string; number: number }): string;
  /** The bypass token of a preview's deploy (health checks, the E2E workflow), from its namespace and nonce. */
  bypassToken(namespace: string, nonce: string): string;
}

/**
 * The answer to the job's asker: in Slack when the request came from Slack, else a comment on the pull request
 * (mentioning the asker when a comment asked). Redacted.
 */
export async function replyOnPull(deps: RunnerDeps, job: PreviewJob, body: string): Promise<void> {
  if (job.slack && deps.answerSlack) return deps.answerSlack(job.slack, redactText(`${previewKey(job)}: ${body}`));
  const octokit = await deps.github.octokitFor(job.installationId);
  const mention = job.actor && job.source === "comment" ? `@${job.actor} ` : "";
  await octokit.rest.issues.createComment({
    owner: job.owner,
    repo: job.repo,
    issue_number: job.number,
    body: redactText(`${mention}${body}`),
  });
}

/** A run report in progress, before any step ran. */
export function newReport(kind: RunReport["kind"], ref: PreviewRef, names: PreviewNames, trigger: string): RunReport {
  return {
    kind,
    ref,
    names,
    state: "in_progress",
    steps: [],
    summary: "",
    startedAt: new Date().toISOString(),
    trigger,
  };
}

/** A run ended: counted, and told to Slack. */
export async function announceRun(deps: RunnerDeps, report: RunReport): Promise<void> {
  deps.metrics?.observeRun(report);
  await deps.notifier?.notifyRun(report);
}

/** An error a step hit, counted by the system it came from (Kubernetes, GitHub, PostgreSQL, …). */
export function countError(deps: RunnerDeps, err: unknown): void {
  const system = systemOf(err);
  if (system !== "other") deps.metrics?.apiError(system);
}
