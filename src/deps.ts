/**
 * The composition root: builds every part once from the settings, and starts nothing while it builds. `buildApp`
 * opens no connection, sets no timer and claims no schedule; `start()` then runs the queue's workers, the job Lease,
 * the notifier's retries, the schedules (backups, sweeps, the missed-backup alarm) and the redelivery of missed
 * webhooks. The CLI builds and starts only what its command needs (`sweep --dry-run` starts nothing).
 *
 * Tests replace parts (the cluster client's KubeConfig, the renderer, the queue, the notifier, the pace of the polls),
 * never the wiring: the end-to-end suites build the server through this same function. Behaviour lives in the parts
 * (the intake, the runner, the backup service, …), not here.
 *
 * Longer than 300 lines: one line or two per part, in the order they depend on each other; split, the order would be
 * spread over files.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import pg from "pg";
import type { Probot, ProbotOctokit } from "probot";
import type { Env } from "./env.js";
import {
  backupsFrom,
  probeRenderer,
  type RenderStatus,
  createProbotApp,
  databasesFrom,
  fleetFrom,
  imageDepsFrom,
  loadKubeConfig,
  notifierFrom,
  queueFrom,
  slackClientFrom,
  queueLeaseFrom,
  sleepFrom,
  startBackupSchedules,
} from "./parts.js";
import { createWakeDoor, type WakeDoor } from "./handlers/wake.js";
import { createCommentJob, COMMENT_JOB, type CommentJob } from "./intake/comment-job.js";
import { createIntake, type Intake } from "./intake/gate.js";
import type { Logger } from "./logger.js";
import { pagePartFrom, withPageLinks, type PagePart } from "./page-part.js";
import { createSlackResponder } from "./services/chat/slack-reply.js";
import { createCluster } from "./services/cluster/cluster.js";
import { createClusterDirectory } from "./services/cluster/directory.js";
import { createGitHubClients, type GitHubClients } from "./services/github/app-clients.js";
import { MemoryHeadLog, PgHeadLog, type HeadLog } from "./services/github/head-log.js";
import { githubOpenPulls } from "./services/github/open-pulls.js";
import { redeliverMissed } from "./services/github/redeliver.js";
import type { GitHubEndpoints } from "./services/github/user-auth.js";
import { WriteLanes } from "./services/github/write-lanes.js";
import { GatedScheduleLock, MemoryScheduleLock, PgScheduleLock, type ScheduleLock } from "./services/jobs/schedule.js";
import type { Notifier } from "./services/chat/notifier.js";
import type { QueueLease } from "./services/cluster/queue-lease.js";
import type { BackupService } from "./services/data/backups/service.js";
import type { Queue } from "./services/jobs/queue.js";
import { createMetrics, type Metrics } from "./services/metrics.js";
import { guardrailSettings } from "./services/preview/guardrails/namespace-guardrails.js";
import {
  createSweeper,
  createSweepScheduler,
  MemorySweepMemory,
  PgSweepMemory,
  type Sweeper,
} from "./services/preview/reconcile/sweeper.js";
import { parseAllowlist } from "./services/preview/render/app-secrets.js";
import { createRenderer, type Renderer } from "./services/preview/render/index.js";
import { rendererSettings, renderWorkerFrom } from "./services/preview/render/settings.js";
import { createRunner, type Runner } from "./services/preview/runner.js";
import type { Fleet } from "./services/preview/fleet/fleet.js";
import { previewTtl } from "./services/preview/fleet/settings.js";
import type { PreviewSleepDeps } from "./services/preview/context.js";
import {
  BACKUP_JOB,
  PREVIEW_JOB,
  type BackupJob,
  type PreviewDirectory,
  type PreviewJob,
} from "./services/shared/dispatch.js";
import { DEFAULT_PACE, type Pace } from "./services/shared/pace.js";
import type { Cluster, Databases } from "./services/shared/preview.js";
import { guardPoolClients } from "./services/shared/pg-pool.js";

/** Parts a test (or an embedding) may put in place of the ones built from the settings. */
export interface PartOverrides {
  kubeConfig?: KubeConfig;
  renderer?: Renderer;
  queue?: Queue;
  notifier?: Notifier;
  /** How often the roll-out, health checks and E2E runs are polled, and when a stalled roll-out ends. */
  pace?: Partial<Pace>;
  /** HTTP for the preview health checks. */
  fetch?: typeof fetch;
  /** Octokit class for Probot (tests disable retries and throttling). */
  Octokit?: typeof ProbotOctokit;
  /** Where visitors sign in with GitHub and whose API says what they read (default from GHE_HOST). */
  signInGitHub?: GitHubEndpoints;
}

export interface AppParts {
  settings: Env;
  logger: Logger;
  metrics: Metrics;
  probot: Probot;
  github: GitHubClients;
  kubeConfig: KubeConfig;
  cluster: Cluster;
  databases?: Databases;
  /** PostgreSQL for the bot's own state (head log, threads, sweep memory, schedule slots), with DATABASE_URL. */
  pool?: pg.Pool;
  queue: Queue;
  /**
   * Without DATABASE_URL, in a cluster: the Lease that lets one replica run the embedded queue and the schedules.
   * Started by `start()`; until then (the CLI never starts it) the embedded queue runs its own jobs.
   */
  queueLease?: QueueLease;
  scheduleLock: ScheduleLock;
  notifier?: Notifier;
  backups?: BackupService;
  heads: HeadLog;
  runner: Runner;
  intake: Intake;
  directory: PreviewDirectory;
  sweeper: Sweeper;
  /** Seats for running previews, the caps and the fair line of deploys waiting for one. */
  fleet: Fleet;
  /** Sleep and wake (absent: nothing sleeps); the wake door answers sleeping previews' hosts (mounted first). */
  sleep?: PreviewSleepDeps;
  wakeDoor: WakeDoor;
  /** The preview page and the sign-in in front of previews: its door, or why it is off. */
  page: PagePart;
}

export interface App extends AppParts {
  renderStatus: RenderStatus;
  /**
   * Start running: the queue's workers and the notifier's retries; unless `lease: false` (the CLI), the job Lease;
   * unless `schedules: false` (the CLI, tests), the schedules and the redelivery of missed webhooks.
   */
  start(opts?: { schedules?: boolean; lease?: boolean }): Promise<void>;
  /** Nothing queued or running, and every GitHub write a job left in the lanes done (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface BuildOptions {
  logger: Logger;
  metrics?: Metrics;
  parts?: PartOverrides;
}

/** Every part, built from the settings; nothing started. Needs the GitHub App's credentials (githubConfigured). */
export function buildApp(settings: Env, o: BuildOptions): App {
  const { logger } = o;
  const parts = o.parts ?? {};
  const pace: Pace = { ...DEFAULT_PACE, ...parts.pace };
  const metrics = o.metrics ?? createMetrics();
  const probot = createProbotApp(settings, logger, parts.Octokit);
  const lanes = new WriteLanes(logger.child({ component: "github-writes" }));
  const github = createGitHubClients({
    probot,
    appId: Number(settings.APP_ID),
    lanes,
    progressIntervalMs: settings.CHECK_RUN_PROGRESS_INTERVAL * 1000,
    metrics,
    logger,
  });
  const kubeConfig = parts.kubeConfig ?? loadKubeConfig(settings);
  const cluster = createCluster({
    kubeConfig,
    protectedNamespaces: settings.PROTECTED_NAMESPACES,
    logger: logger.child({ component: "cluster" }),
    pollMs: pace.pollMs,
    failFastMs: pace.rolloutFailFastMs,
  });
  const databases = databasesFrom(settings, logger);
  const pool = settings.DATABASE_URL
    ? new pg.Pool({ connectionString: settings.DATABASE_URL, max: 3, application_name: "preview-bot" })
    : undefined;
  pool?.on("error", (err) => logger.warn({ err }, "idle state-database connection failed"));
  if (pool) guardPoolClients(pool);
  const slackClient = slackClientFrom(settings);
  const answerSlack = slackClient ? createSlackResponder({ client: slackClient, logger }) : undefined;
  const notifier = parts.notifier ?? (slackClient ? notifierFrom(settings, slackClient, pool, logger) : undefined);
  const queueLease = settings.DATABASE_URL ? undefined : queueLeaseFrom(settings, kubeConfig, logger);
  // Schedules fire once per slot: claimed in PostgreSQL, or (without it) only on the replica holding the job Lease.
  const slots: ScheduleLock = pool ? new PgScheduleLock({ pool }) : new MemoryScheduleLock();
  const scheduleLock = queueLease ? new GatedScheduleLock(slots, queueLease) : slots;
  const queue = parts.queue ?? queueFrom(settings, metrics, logger, notifier, queueLease);
  const backups = backupsFrom(settings, { databases, metrics, notifier, answerSlack, logger });
  const page = pagePartFrom(settings, {
    cluster,
    kubeConfig,
    ...(databases ? { databases } : {}),
    ...(backups ? { backups: backups.reads } : {}),
    logger,
    ...(parts.signInGitHub ? { github: parts.signInGitHub } : {}),
  });
  const workDir = settings.WORK_DIR ?? join(tmpdir(), "preview-bot");
  const renderWorker = renderWorkerFrom(settings, logger);
  const renderStatus: RenderStatus = { state: "not checked yet" };
  // Submitting a destroy needs the intake, built after the runner: the fleet reaches it through this late binding.
  const late: { submit?: Intake["submit"] } = {};
  const fleet = fleetFrom(settings, { pool, queue, github, notifier, submit: async (r) => late.submit?.(r), logger });
  const sleep = sleepFrom(settings, kubeConfig, logger.child({ component: "sleep" }), parts.fetch);
  const runner = createRunner({
    cluster,
    renderer:
      parts.renderer ??
      createRenderer({
        worker: renderWorker,
        logger,
        toolPath: settings.PATH,
        ...rendererSettings(settings),
        access: page.access,
      }),
    ...(databases ? { databases } : {}),
    ...(backups?.previews ? { backups: backups.previews } : {}),
    github,
    ...(notifier ? { notifier } : {}),
    metrics,
    ...(answerSlack ? { answerSlack } : {}),
    seedForkPreviews: settings.SEED_FORK_PREVIEWS,
    appSecrets: { sources: parseAllowlist(settings.PREVIEW_SECRET_SOURCES), forks: settings.PREVIEW_SECRETS_FOR_FORKS },
    logger: logger.child({ component: "runner" }),
    workDir,
    namespaceDeleteTimeoutMs: settings.NAMESPACE_DELETE_TIMEOUT * 1000,
    protectedNamespaces: settings.PROTECTED_NAMESPACES,
    guardrails: guardrailSettings(settings),
    ...(sleep ? { sleep } : {}),
    images: imageDepsFrom(settings, cluster, pace),
    ...(parts.fetch ? { fetchImpl: parts.fetch } : {}),
    healthIntervalMs: pace.healthIntervalMs,
    e2ePollMs: pace.e2ePollMs,
    fleet,
    ttl: previewTtl(settings),
    ...(page.links ? { page: page.links } : {}),
    ...(page.accessGrants ? { accessGrants: page.accessGrants } : {}),
  });
  const heads: HeadLog = pool ? new PgHeadLog(pool) : new MemoryHeadLog();
  const intake = createIntake({
    enqueue: (job) => queue.enqueue(job),
    github,
    heads,
    ...(backups ? { targets: backups.rules } : {}),
    admins: settings.PREVIEW_BOT_ADMINS,
    logger,
  });
  late.submit = (request) => intake.submit(request);
  const commentJob = createCommentJob({ octokitFor: (id) => github.octokitFor(id), intake, logger });
  queue.register<PreviewJob>(PREVIEW_JOB, (job, signal, control) => runner.handle(job, signal, control));
  queue.register<CommentJob>(COMMENT_JOB, (job) => commentJob(job.payload));
  if (backups) queue.register<BackupJob>(BACKUP_JOB, (job) => backups.run(job.payload));
  const sweeper = createSweeper({
    cluster,
    ...(databases ? { databases } : {}),
    listOpenPulls: githubOpenPulls(github),
    submit: (request) => intake.submit(request),
    logger,
    protectedNamespaces: settings.PROTECTED_NAMESPACES,
    memory: pool ? new PgSweepMemory(pool) : new MemorySweepMemory(),
    // A deploy waiting in the fleet's line is not missing: it is left to the line.
    activeKeys: async () => new Set([...(await queue.activeKeys()), ...(await fleet.waitingKeys())]),
    reconcileSeats: async (existing, _busy, open) => fleet.reconcile(existing, await queue.activeKeys(), open),
    ...(notifier ? { onHeadsUp: (item) => notifier.headsUp(item) } : {}),
  });

  const wakeDoor = createWakeDoor({ cluster, submit: (request) => intake.submit(request), logger });

  const running: Array<{ stop(): Promise<void> | void }> = [];
  const app: App = {
    settings,
    logger,
    metrics,
    probot,
    github,
    kubeConfig,
    cluster,
    ...(databases ? { databases } : {}),
    ...(pool ? { pool } : {}),
    queue,
    ...(queueLease ? { queueLease } : {}),
    scheduleLock,
    ...(notifier ? { notifier } : {}),
    ...(backups ? { backups } : {}),
    heads,
    runner,
    intake,
    directory: withPageLinks(
      createClusterDirectory(cluster, () => fleet.queued()),
      page,
    ),
    fleet,
    sweeper,
    ...(sleep ? { sleep } : {}),
    wakeDoor,
    page,

    renderStatus,

    async start({ schedules = true, lease = true } = {}) {
      mkdirSync(workDir, { recursive: true });
      // As root, the sandbox runs renders as an unprivileged uid: it must be able to pass through (not list) the
      // work directory to reach its run's own directory.
      if (process.getuid?.() === 0) chmodSync(workDir, 0o711);
      if (!parts.renderer) await probeRenderer(renderWorker, workDir, renderStatus, logger);
      // Without DATABASE_URL only the Lease holder runs jobs: tried once before serving (a lone replica holds it at
      // once), but an API server that does not answer must not keep the doors closed.
      if (queueLease && lease) {
        await Promise.race([queueLease.start(), new Promise((r) => setTimeout(r, 10_000).unref())]);
        running.push(queueLease);
      }
      await queue.start();
      // Deploys that waited across a restart, or that fit after the caps were raised, start now.
      await fleet.pump().catch((err: unknown) => logger.warn({ err }, "starting the deploys waiting for a seat"));
      notifier?.start?.();
      const gauge = setInterval(() => metrics.setQueue(queue.stats()), 5_000);
      gauge.unref();
      running.push({ stop: () => clearInterval(gauge) });
      if (!schedules) return;
      const sweeps = createSweepScheduler({
        sweeper,
        lock: scheduleLock,
        logger,
        onResult: async (result) => {
          if (result.dispatched.length || result.errors.length) await notifier?.announce?.(result.text);
        },
      });
      sweeps.start(60_000);
      running.push(sweeps);
      if (backups) running.push(...startBackupSchedules(backups, intake, scheduleLock, logger));
      // GitHub does not retry failed deliveries: ask for the recent failures and redeliver them (never throws).
      void github.app().then(
        (octokit) => redeliverMissed({ octokit, logger, lock: scheduleLock }),
        (err: unknown) => logger.warn({ err }, "could not authenticate as the App to redeliver missed webhooks"),
      );
    },

    async idle() {
      do {
        await queue.onIdle();
        await fleet.settled();
        await lanes.drain();
      } while (lanes.pending > 0 || (await queue.activeKeys()).size > 0);
    },

    async close() {
      notifier?.close?.();
      renderWorker.close?.();
      for (const r of running.splice(0).reverse()) if (r !== queueLease) await r.stop();
      await queue.stop();
      await queueLease?.stop(); // after the running jobs: the next holder starts none beside them
      await Promise.race([lanes.drain(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await databases?.close();
      await pool?.end();
    },
  };
  return app;
}
