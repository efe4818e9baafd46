/**
 * Builds the real clients once and wires the runner behind the queue. Handlers and services never construct clients
 * themselves; tests pass overrides (a KubeConfig for the fake API server, a fetch for health checks).
 *
 * Longer than 300 lines: it is the one place where every outside system is wired, and reads top to bottom as
 * `buildDeps` and then one small named function per part (databases, notifier, runner, Lease, queue, sweeper).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Env } from "./env.js";
import { withLogContext, type Logger } from "./logger.js";
import { createCluster } from "./services/cluster/cluster.js";
import { createDatabases } from "./services/data/databases.js";
import { createClusterDirectory } from "./services/cluster/directory.js";
import type { Dispatcher, PreviewDirectory } from "./services/shared/dispatch.js";
import { createDispatcher, PREVIEW_JOB } from "./services/jobs/dispatcher.js";
import type { Octokit } from "./services/github/reads.js";
import type { Metrics } from "./services/metrics.js";
import {
  createSlackNotifier,
  createSlackWebClient,
  MemoryThreadStore,
  type Notifier,
} from "./services/chat/notifier.js";
import type { Cluster, Databases } from "./services/shared/preview.js";
import { previewKey } from "./services/shared/preview.js";
import { createMemoryQueue, type Queue } from "./services/jobs/queue.js";
import { QueueLease } from "./services/cluster/queue-lease.js";
import { createRenderer, type Renderer } from "./services/preview/render/index.js";
import { rendererSettings } from "./services/preview/render/settings.js";
import { createReporter } from "./services/github/reporter.js";
import { WriteLanes } from "./services/github/write-lanes.js";
import type { RunReport } from "./services/shared/run-report.js";
import { createRunner, type Runner } from "./services/preview/runner.js";
import { guardrailSettings } from "./services/preview/guardrails/namespace-guardrails.js";
import type { PreviewJob } from "./services/shared/dispatch.js";
import type { Enqueue } from "./handlers/pull-request.js";
import type { EnqueueComment } from "./handlers/issue-comment.js";
import { COMMENT_JOB, commentJobKey, createCommentJob, type CommentJob } from "./handlers/comment-job.js";
import { MemoryHeadLog, PgHeadLog, type HeadLog } from "./services/github/head-log.js";
import type { BackupTargets } from "./handlers/slack.js";
type WebClient = ReturnType<typeof createSlackWebClient>;
import pg from "pg";
import { Probot, type ProbotOctokit } from "probot";
import { scheduleLock, startBackups, startSweeps } from "./background.js";
import { privateKey } from "./env.js";
import { GatedScheduleLock, type ScheduleLock, type SlotScheduler } from "./services/jobs/schedule.js";
import type { PreviewBackups } from "./services/data/backups/previews.js";
import { createPgQueue } from "./services/jobs/queue-pg.js";
import { PgThreadStore } from "./services/chat/slack-threads.js";
import { createSlackResponder } from "./services/chat/slack-reply.js";
import { describeError, systemOf } from "./services/shared/errors.js";
import {
  createSweeper,
  githubOpenPulls,
  MemorySweepMemory,
  PgSweepMemory,
  type Sweeper,
} from "./services/preview/reconcile/sweeper.js";

export interface DepsOverrides {
  kubeConfig?: KubeConfig;
  renderer?: Renderer;
  fetchImpl?: typeof fetch;
  healthIntervalMs?: number;
  pollMs?: number;
  rolloutFailFastMs?: number;
  e2ePollMs?: number;
}

export interface Deps {
  cluster: Cluster;
  databases?: Databases;
  queue: Queue;
  runner: Runner;
  dispatcher: Dispatcher;
  enqueue: Enqueue;
  /** PR comments → `comment` jobs (authorized and answered in the job). */
  enqueueComment: EnqueueComment;
  /** Fork PR heads and when they arrived (shared by the replicas with DATABASE_URL). */
  heads: HeadLog;
  directory: PreviewDirectory;
  notifier?: Notifier;
  kubeConfig: KubeConfig;
  backups?: PreviewBackups;
  backupTargets?: BackupTargets;
  scheduler?: SlotScheduler;
  sweeper: Sweeper;
  /** PostgreSQL for the bot's own state (locks, sweep marks), with DATABASE_URL. */
  pool?: pg.Pool;
  /**
   * Without DATABASE_URL, in a cluster: the Lease that lets one replica run jobs. The server starts it; until then
   * (the CLI never does) the embedded queue runs its own jobs.
   */
  queueLease?: QueueLease;
  /** What the schedules (backups, sweeps, redelivery) claim their slots with. */
  scheduleLock: ScheduleLock;
  /** Start the schedules (backups, sweeps); the CLI builds deps without them. */
  startSchedules(): void;
  close(): Promise<void>;
}

/** The GitHub App, from the environment (GitHub Enterprise Server aware). */
export function createProbotApp(env: Env, logger: Logger, Octokit?: typeof ProbotOctokit): Probot {
  return new Probot({
    appId: env.APP_ID!,
    privateKey: privateKey(env)!,
    secret: env.WEBHOOK_SECRET!,
    log: logger.child({ component: "probot" }),
    ...(env.GHE_HOST ? { baseUrl: `${env.GHE_PROTOCOL ?? "https"}://${env.GHE_HOST}/api/v3` } : {}),
    ...(Octokit ? { Octokit } : {}),
  });
}

export function loadKubeConfig(env: Env): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // in-cluster service account, else $KUBECONFIG, else ~/.kube/config
  if (env.KUBE_CONTEXT) kc.setCurrentContext(env.KUBE_CONTEXT);
  return kc;
}

export function buildDeps(
  env: Env,
  logger: Logger,
  probot: Probot,
  metrics: Metrics,
  overrides: DepsOverrides = {},
): Deps {
  const kubeConfig = overrides.kubeConfig ?? loadKubeConfig(env);
  const cluster = clusterFrom(env, kubeConfig, logger, overrides);
  const databases = databasesFrom(env, logger);
  const workDir = env.WORK_DIR ?? join(tmpdir(), "preview-bot");
  mkdirSync(workDir, { recursive: true });
  const pool = env.DATABASE_URL
    ? new pg.Pool({ connectionString: env.DATABASE_URL, max: 3, application_name: "preview-bot" })
    : undefined;
  pool?.on("error", (err) => logger.warn({ err }, "idle state-database connection failed"));
  const slackClient = env.SLACK_BOT_TOKEN ? createSlackWebClient(env.SLACK_BOT_TOKEN) : undefined;
  const notifier = notifierFrom(env, slackClient, pool, logger);
  const queueLease = env.DATABASE_URL ? undefined : queueLeaseFrom(env, kubeConfig, logger);
  // Schedules fire once per slot: claimed in PostgreSQL, or (without it) only on the replica holding the job Lease.
  const lock = queueLease ? new GatedScheduleLock(scheduleLock(pool), queueLease) : scheduleLock(pool);
  const backups = startBackups(env, { logger, metrics, ...(notifier ? { notifier } : {}), lock });
  // GitHub writes of every run, one lane per installation (see write-lanes.ts); check runs go first.
  const lanes = new WriteLanes(logger.child({ component: "github-writes" }));
  const runner = runnerFrom({
    env,
    logger,
    metrics,
    probot,
    cluster,
    workDir,
    overrides,
    lanes,
    ...(databases ? { databases } : {}),
    ...(backups.previews ? { backups: backups.previews } : {}),
    ...(notifier ? { notifier } : {}),
    ...(slackClient ? { slackClient } : {}),
  });
  // "Idle" includes the GitHub writes a finished job left draining in the lanes (tests, graceful shutdown).
  const queue = withWrites(queueFrom(env, metrics, logger, notifier, queueLease), lanes);
  const { dispatcher, enqueue, enqueueComment, heads } = jobKindsFrom({ queue, runner, probot, pool, logger });
  const timer = setInterval(() => metrics.setQueue(queue.stats()), 5_000);
  timer.unref();
  const sweeper = sweeperFrom({
    env,
    logger,
    probot,
    cluster,
    queue,
    dispatcher,
    pool,
    ...(databases ? { databases } : {}),
    ...(notifier ? { notifier } : {}),
  });
  let sweeps: SlotScheduler | undefined;

  return {
    cluster,
    ...(databases ? { databases } : {}),
    queue,
    runner,
    dispatcher,
    enqueue,
    enqueueComment,
    heads,
    directory: createClusterDirectory(cluster),
    ...(notifier ? { notifier } : {}),
    kubeConfig,
    ...(backups.previews ? { backups: backups.previews } : {}),
    ...(backups.scheduler ? { scheduler: backups.scheduler } : {}),
    ...(backups.targets ? { backupTargets: backups.targets } : {}),
    sweeper,
    ...(pool ? { pool } : {}),
    ...(queueLease ? { queueLease } : {}),
    scheduleLock: lock,
    startSchedules() {
      sweeps ??= startSweeps(sweeper, { logger, ...(notifier ? { notifier } : {}), lock });
    },
    async close() {
      clearInterval(timer);
      notifier?.close?.();
      await sweeps?.stop();
      await backups.stop();
      await queue.stop();
      await queueLease?.stop(); // after the running jobs: the next holder starts none beside them
      await Promise.race([lanes.drain(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await databases?.close();
      await pool?.end();
    },
  };
}

function clusterFrom(env: Env, kubeConfig: KubeConfig, logger: Logger, overrides: DepsOverrides): Cluster {
  return createCluster({
    kubeConfig,
    protectedNamespaces: env.PROTECTED_NAMESPACES,
    logger: logger.child({ component: "cluster" }),
    ...(overrides.pollMs ? { pollMs: overrides.pollMs } : {}),
    ...(overrides.rolloutFailFastMs !== undefined ? { failFastMs: overrides.rolloutFailFastMs } : {}),
  });
}

/** The two job kinds (a preview job, a comment job), the dispatcher, and the doors' enqueue functions. */
function jobKindsFrom(w: { queue: Queue; runner: Runner; probot: Probot; pool: pg.Pool | undefined; logger: Logger }) {
  const { queue, runner, probot, pool, logger } = w;
  // Every line a job logs carries its delivery, job id and preview key.
  queue.register<PreviewJob>(PREVIEW_JOB, (job, signal) =>
    withLogContext({ delivery: job.payload.deliveryId, job: job.id, key: job.key, action: job.payload.action }, () =>
      runner.run(job.payload, signal),
    ),
  );
  const dispatcher = createDispatcher({
    queue,
    installationFor: async (owner, repo) => await installationOf(probot, owner, repo),
  });
  const enqueue: Enqueue = async (job, deliveryId) => {
    // A new commit, a reopen or a close supersedes older work; a label or a check completion only queues behind it
    // (a label someone adds must not cancel a deploy in progress).
    const supersedes = job.checkName === undefined && job.labeled === undefined;
    await queue.enqueue({
      kind: PREVIEW_JOB,
      key: previewKey(job),
      payload: { ...job, deliveryId },
      dedupeId: deliveryId,
      supersedes,
    });
  };
  const heads: HeadLog = pool ? new PgHeadLog(pool) : new MemoryHeadLog();
  const commentJob = createCommentJob({
    octokitFor: async (id) => (await probot.auth(id)) as Octokit,
    dispatcher,
    heads,
    logger,
  });
  queue.register<CommentJob>(COMMENT_JOB, (job) =>
    withLogContext({ delivery: job.payload.deliveryId, job: job.id, key: job.key, action: "comment" }, () =>
      commentJob(job.payload),
    ),
  );
  const enqueueComment: EnqueueComment = async (job, deliveryId) =>
    queue.enqueue({ kind: COMMENT_JOB, key: commentJobKey(job), payload: job, dedupeId: deliveryId });
  return { dispatcher, enqueue, enqueueComment, heads };
}

function databasesFrom(env: Env, logger: Logger): Databases | undefined {
  if (!env.PREVIEW_DATABASE_URL) return undefined;
  return createDatabases({
    adminUrl: env.PREVIEW_DATABASE_URL,
    ...(env.PREVIEW_DATABASE_SSLMODE
      ? {
          ssl: {
            mode: env.PREVIEW_DATABASE_SSLMODE,
            ...(env.PREVIEW_DATABASE_SSL_CA_FILE ? { ca: readFileSync(env.PREVIEW_DATABASE_SSL_CA_FILE, "utf8") } : {}),
          },
        }
      : {}),
    ...(env.PREVIEW_DATABASE_PUBLIC_HOST ? { publicHost: env.PREVIEW_DATABASE_PUBLIC_HOST } : {}),
    ...(env.PREVIEW_DATABASE_PUBLIC_PORT ? { publicPort: env.PREVIEW_DATABASE_PUBLIC_PORT } : {}),
    ...(env.PREVIEW_DATABASE_PASSWORD_KEY ? { passwordKey: env.PREVIEW_DATABASE_PASSWORD_KEY } : {}),
    templates: env.PREVIEW_DATABASE_TEMPLATES,
    adminExtensions: env.PREVIEW_DATABASE_ADMIN_EXTENSIONS,
    logger: logger.child({ component: "databases" }),
  });
}

function notifierFrom(
  env: Env,
  client: WebClient | undefined,
  pool: pg.Pool | undefined,
  logger: Logger,
): Notifier | undefined {
  if (!client) return undefined;
  return createSlackNotifier({
    client,
    threads: pool ? new PgThreadStore(pool) : new MemoryThreadStore(),
    // A repository's `slack.channel` comes with each message (from its config); this is the fallback.
    channelFor: () => env.SLACK_DEFAULT_CHANNEL,
    ...(env.SLACK_DEFAULT_CHANNEL ? { announceChannel: env.SLACK_DEFAULT_CHANNEL } : {}),
    logger,
  });
}

interface RunnerWiring {
  env: Env;
  logger: Logger;
  metrics: Metrics;
  probot: Probot;
  cluster: Cluster;
  workDir: string;
  overrides: DepsOverrides;
  databases?: Databases;
  backups?: PreviewBackups;
  notifier?: Notifier;
  slackClient?: WebClient;
  lanes: WriteLanes;
}

function runnerFrom(w: RunnerWiring): Runner {
  const { env, logger, metrics, notifier, overrides } = w;
  const appSlug = memoizedAppSlug(w.probot);
  return createRunner({
    cluster: w.cluster,
    renderer: overrides.renderer ?? createRenderer({ workDir: w.workDir, logger, ...rendererSettings(env) }),
    ...(w.databases ? { databases: w.databases } : {}),
    ...(w.backups ? { backups: w.backups } : {}),
    octokitFor: async (installationId) => (await w.probot.auth(installationId)) as Octokit,
    reporterFor: (octokit, owner, repo) =>
      createReporter({
        octokit,
        owner,
        repo,
        logger,
        lanes: w.lanes,
        tail: "background",
        app: { id: Number(env.APP_ID), slug: appSlug },
        progressIntervalMs: env.CHECK_RUN_PROGRESS_INTERVAL * 1000,
        onFailure: (surface) => metrics.githubWriteFailed(surface),
      }),
    notify: async (report: RunReport) => {
      metrics.observeRun(report);
      await notifier?.notify(
        {
          key: report.names.key,
          owner: report.ref.owner,
          repo: report.ref.repo,
          number: report.ref.number,
          state: summaryState(report),
          namespace: report.names.namespace,
          ...(report.url ? { url: report.url } : {}),
          ...(report.ref.sha ? { sha: report.ref.sha } : {}),
        },
        { text: report.summary, ...(report.error ? { detail: report.error } : {}) },
        report.slackChannel ? { channel: report.slackChannel } : {},
      );
    },
    ...(w.slackClient ? { answerSlack: createSlackResponder({ client: w.slackClient, logger }) } : {}),
    seedForkPreviews: env.SEED_FORK_PREVIEWS,
    onError: (err) => {
      const system = systemOf(err);
      if (system !== "other") metrics.apiError(system);
    },
    logger: logger.child({ component: "runner" }),
    workDir: w.workDir,
    namespaceDeleteTimeoutMs: env.NAMESPACE_DELETE_TIMEOUT * 1000,
    protectedNamespaces: env.PROTECTED_NAMESPACES,
    guardrails: guardrailSettings(env),
    ...(overrides.fetchImpl ? { fetchImpl: overrides.fetchImpl } : {}),
    ...(overrides.healthIntervalMs ? { healthIntervalMs: overrides.healthIntervalMs } : {}),
    ...(overrides.e2ePollMs ? { e2ePollMs: overrides.e2ePollMs } : {}),
  });
}

/** The App's slug (for finding its own comments), asked once; asked again after a failure. */
function memoizedAppSlug(probot: Probot): () => Promise<string | undefined> {
  let slug: Promise<string | undefined> | undefined;
  return () =>
    (slug ??= probot
      .auth()
      .then(async (app) => (await (app as Octokit).rest.apps.getAuthenticated()).data?.slug)
      .catch((err: unknown) => {
        slug = undefined; // ask again next time
        throw err;
      }));
}

/** The Lease for one queue per fleet, in the bot's own namespace; none outside a cluster (one process, then). */
function queueLeaseFrom(env: Env, kubeConfig: KubeConfig, logger: Logger): QueueLease | undefined {
  const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
  const namespace =
    env.POD_NAMESPACE ??
    (existsSync(SERVICE_ACCOUNT_NAMESPACE) ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() : undefined);
  if (!namespace) return undefined;
  return new QueueLease({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace,
    name: "preview-bot-queue",
    identity: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
    logger: logger.child({ component: "queue-lease" }),
  });
}

/** Durable keyed jobs with DATABASE_URL (several replicas, restarts, retries); in memory otherwise. */
function queueFrom(
  env: Env,
  metrics: Metrics,
  logger: Logger,
  notifier: Notifier | undefined,
  gate?: QueueLease,
): Queue {
  const queueLog = logger.child({ component: "queue" });
  if (!env.DATABASE_URL)
    return createMemoryQueue({ concurrency: env.JOB_CONCURRENCY, logger: queueLog, ...(gate ? { gate } : {}) });
  return createPgQueue({
    connectionString: env.DATABASE_URL,
    concurrency: env.JOB_CONCURRENCY,
    logger: queueLog,
    onRetry: (job) => metrics.jobRetries.inc({ kind: job.kind }),
    onFailed: async (job, err) => {
      metrics.jobFailed(job.kind);
      queueLog.error({ err, key: job.key, jobId: job.id }, `job for ${job.key} failed for good: ${describeError(err)}`);
      await notifier?.announce?.(`preview-bot gave up on a job for ${job.key}: ${describeError(err).slice(0, 300)}`);
    },
  });
}

interface SweeperWiring {
  env: Env;
  logger: Logger;
  probot: Probot;
  cluster: Cluster;
  queue: Queue;
  dispatcher: Dispatcher;
  pool: pg.Pool | undefined;
  databases?: Databases;
  notifier?: Notifier;
}

function sweeperFrom(w: SweeperWiring): Sweeper {
  const { notifier } = w;
  return createSweeper({
    cluster: w.cluster,
    ...(w.databases ? { databases: w.databases } : {}),
    listOpenPulls: githubOpenPulls({
      app: async () => (await w.probot.auth()) as Octokit,
      octokitFor: async (id) => (await w.probot.auth(id)) as Octokit,
    }),
    dispatch: (req) => w.dispatcher.dispatch(req),
    logger: w.logger,
    protectedNamespaces: w.env.PROTECTED_NAMESPACES,
    memory: w.pool ? new PgSweepMemory(w.pool) : new MemorySweepMemory(),
    activeKeys: () => w.queue.activeKeys(),
    // The heads-up goes into the PR's thread, whose summary message carries the Extend button.
    onHeadsUp: async (item) => {
      await notifier?.notify(
        {
          key: item.key,
          owner: item.owner,
          repo: item.repo,
          number: item.number,
          state: "ready",
          namespace: item.namespace,
          expiresAt: item.expiresAt,
        },
        {
          text: `This preview expires at ${item.expiresAt}. Press Extend, or comment \`/preview extend 3d\` on the pull request, to keep it.`,
        },
        item.slackChannel ? { channel: item.slackChannel } : {},
      );
    },
  });
}

/** The App's installation on a repository (jobs from Slack do not carry one). */
async function installationOf(probot: Probot, owner: string, repo: string): Promise<number> {
  const app = (await probot.auth()) as Octokit;
  const { data } = await app.rest.apps.getRepoInstallation({ owner, repo });
  return data.id;
}

/** The queue, whose `onIdle` also waits for the GitHub writes its jobs left in the lanes. */
function withWrites(queue: Queue, lanes: WriteLanes): Queue {
  return {
    register: (kind, handler) => queue.register(kind, handler),
    enqueue: (options) => queue.enqueue(options),
    activeKeys: () => queue.activeKeys(),
    stats: () => queue.stats(),
    stop: (timeoutMs) => queue.stop(timeoutMs),
    async onIdle() {
      do {
        await queue.onIdle();
        await lanes.drain();
      } while (lanes.pending > 0);
    },
  };
}

function summaryState(report: RunReport): "ready" | "failed" | "destroyed" | "superseded" | "deploying" {
  if (report.kind === "destroy") return report.state === "success" ? "destroyed" : "failed";
  if (report.state === "success") return "ready";
  if (report.state === "superseded") return "superseded";
  if (report.state === "failure") return "failed";
  return "deploying";
}
