/**
 * Builds the real clients once and wires the runner behind the queue. Handlers and services never construct clients
 * themselves; tests pass overrides (a KubeConfig for the fake API server, a fetch for health checks).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Probot } from "probot";
import type { Env } from "./env.js";
import type { Logger } from "./logger.js";
import { createCluster } from "./services/cluster.js";
import { createDatabases } from "./services/databases.js";
import { createClusterDirectory } from "./services/directory.js";
import type { Dispatcher, PreviewDirectory } from "./services/dispatch.js";
import { createDispatcher, PREVIEW_JOB } from "./services/dispatcher.js";
import type { Octokit } from "./services/github.js";
import type { Metrics } from "./services/metrics.js";
import { createSlackNotifier, createSlackWebClient, MemoryThreadStore, type Notifier } from "./services/notifier.js";
import type { Cluster, Databases } from "./services/preview.js";
import { previewKey } from "./services/preview.js";
import { createMemoryQueue, type Queue } from "./services/queue.js";
import { createRenderer, type Renderer } from "./services/render/index.js";
import { createReporter } from "./services/reporter.js";
import type { RunReport } from "./services/run-report.js";
import { createRunner, type PreviewJob, type Runner } from "./services/runner.js";
import type { Enqueue } from "./handlers/pull-request.js";
import pg from "pg";
import {
  BackupScheduler,
  blobStoreFromEnv,
  checkMissed,
  formatBackupFailure,
  formatBackupMissed,
  formatBackupSuccess,
  loadTargets,
  MemoryScheduleLock,
  PgScheduleLock,
  runBackupJob,
  findTarget,
  type BackupEvents,
} from "./services/backups/index.js";
import { createPreviewBackups, type PreviewBackups } from "./services/backups/previews.js";

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
  directory: PreviewDirectory;
  notifier?: Notifier;
  kubeConfig: KubeConfig;
  backups?: PreviewBackups;
  scheduler?: BackupScheduler;
  close(): Promise<void>;
}

export function loadKubeConfig(env: Env): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // in-cluster service account, else $KUBECONFIG, else ~/.kube/config
  if (env.KUBE_CONTEXT) kc.setCurrentContext(env.KUBE_CONTEXT);
  return kc;
}

export function buildDeps(env: Env, logger: Logger, probot: Probot, metrics: Metrics, overrides: DepsOverrides = {}): Deps {
  const kubeConfig = overrides.kubeConfig ?? loadKubeConfig(env);
  const cluster = createCluster({
    kubeConfig,
    protectedNamespaces: env.PROTECTED_NAMESPACES,
    logger: logger.child({ component: "cluster" }),
    ...(overrides.pollMs ? { pollMs: overrides.pollMs } : {}),
    ...(overrides.rolloutFailFastMs !== undefined ? { failFastMs: overrides.rolloutFailFastMs } : {}),
  });
  const databases = env.PREVIEW_DATABASE_URL
    ? createDatabases({
        adminUrl: env.PREVIEW_DATABASE_URL,
        ...(env.PREVIEW_DATABASE_SSLMODE ? { ssl: { mode: env.PREVIEW_DATABASE_SSLMODE, ...(env.PREVIEW_DATABASE_SSL_CA_FILE ? { ca: readFileSync(env.PREVIEW_DATABASE_SSL_CA_FILE, "utf8") } : {}) } } : {}),
        ...(env.PREVIEW_DATABASE_PUBLIC_HOST ? { publicHost: env.PREVIEW_DATABASE_PUBLIC_HOST } : {}),
        ...(env.PREVIEW_DATABASE_PUBLIC_PORT ? { publicPort: env.PREVIEW_DATABASE_PUBLIC_PORT } : {}),
        ...(env.PREVIEW_DATABASE_PASSWORD_KEY ? { passwordKey: env.PREVIEW_DATABASE_PASSWORD_KEY } : {}),
        logger: logger.child({ component: "databases" }),
      })
    : undefined;
  const workDir = env.WORK_DIR ?? join(tmpdir(), "preview-bot");
  mkdirSync(workDir, { recursive: true });
  const renderer =
    overrides.renderer ??
    createRenderer({ workDir, logger, ...(env.KUSTOMIZE_COMMAND ? { kustomizeCommand: env.KUSTOMIZE_COMMAND.split(/\s+/).filter(Boolean) } : {}) });

  const notifier =
    env.SLACK_BOT_TOKEN && env.SLACK_DEFAULT_CHANNEL
      ? createSlackNotifier({
          client: createSlackWebClient(env.SLACK_BOT_TOKEN),
          threads: new MemoryThreadStore(),
          channelFor: () => env.SLACK_DEFAULT_CHANNEL,
          announceChannel: env.SLACK_DEFAULT_CHANNEL,
          logger,
        })
      : undefined;

  const backups = buildBackups(env, logger, metrics, notifier);

  const runner = createRunner({
    cluster,
    renderer,
    ...(databases ? { databases } : {}),
    ...(backups.previews ? { backups: backups.previews } : {}),
    octokitFor: async (installationId) => (await probot.auth(installationId)) as Octokit,
    reporterFor: (octokit, owner, repo) => createReporter({ octokit, owner, repo, logger }),
    notify: async (report: RunReport) => {
      metrics.observeRun(report);
      await notifier?.notify(
        { key: report.names.key, owner: report.ref.owner, repo: report.ref.repo, number: report.ref.number, state: summaryState(report), namespace: report.names.namespace, ...(report.url ? { url: report.url } : {}), ...(report.ref.sha ? { sha: report.ref.sha } : {}) },
        { text: report.summary, ...(report.error ? { detail: report.error } : {}) },
      );
    },
    logger: logger.child({ component: "runner" }),
    workDir,
    namespaceDeleteTimeoutMs: env.NAMESPACE_DELETE_TIMEOUT * 1000,
    protectedNamespaces: env.PROTECTED_NAMESPACES,
    ...(overrides.fetchImpl ? { fetchImpl: overrides.fetchImpl } : {}),
    ...(overrides.healthIntervalMs ? { healthIntervalMs: overrides.healthIntervalMs } : {}),
    ...(overrides.e2ePollMs ? { e2ePollMs: overrides.e2ePollMs } : {}),
  });

  const queue = createMemoryQueue({ concurrency: env.JOB_CONCURRENCY, logger: logger.child({ component: "queue" }) });
  queue.register<PreviewJob>(PREVIEW_JOB, (job, signal) => runner.run(job.payload, signal));
  const dispatcher = createDispatcher({
    queue,
    installationFor: async (owner, repo) => {
      const app = (await probot.auth()) as Octokit;
      const { data } = await app.rest.apps.getRepoInstallation({ owner, repo });
      return data.id;
    },
  });
  const enqueue: Enqueue = async (job, deliveryId) => {
    // Automatic events for a newer commit supersede older work; a check completion only queues behind it.
    await queue.enqueue({ kind: PREVIEW_JOB, key: previewKey(job), payload: job, dedupeId: deliveryId, supersedes: job.checkName === undefined });
  };
  const timer = setInterval(() => metrics.setQueue(queue.stats()), 5_000);
  timer.unref();

  return {
    cluster,
    ...(databases ? { databases } : {}),
    queue,
    runner,
    dispatcher,
    enqueue,
    directory: createClusterDirectory(cluster),
    ...(notifier ? { notifier } : {}),
    kubeConfig,
    ...(backups.previews ? { backups: backups.previews } : {}),
    ...(backups.scheduler ? { scheduler: backups.scheduler } : {}),
    async close() {
      clearInterval(timer);
      await backups.stop();
      await queue.stop();
      await databases?.close();
    },
  };
}

/**
 * Backups, when blob storage is configured: the preview-database service for the runner, and the scheduler for the
 * bot-level targets (claims each slot once across replicas: in PostgreSQL with DATABASE_URL, in memory otherwise).
 * Results go to Slack and to /metrics; they never fail the bot.
 */
function buildBackups(env: Env, logger: Logger, metrics: Metrics, notifier: Notifier | undefined): { previews?: PreviewBackups; scheduler?: BackupScheduler; stop(): Promise<void> } {
  const log = logger.child({ component: "backups" });
  if (!env.AZURE_STORAGE_ACCOUNT_URL && !env.AZURE_STORAGE_CONNECTION_STRING) return { stop: async () => {} };
  const store = blobStoreFromEnv(process.env);
  const targets = loadTargets(process.env);
  const previews = env.PREVIEW_DATABASE_URL
    ? createPreviewBackups({ store, adminUrl: env.PREVIEW_DATABASE_URL, container: env.PREVIEW_BACKUP_CONTAINER, targets, env: process.env, logger: log })
    : undefined;
  if (targets.length === 0) return { ...(previews ? { previews } : {}), stop: async () => {} };

  const announce = async (text: string) => {
    log.info(text);
    await notifier?.announce?.(text);
  };
  const events: BackupEvents = {
    onSuccess: async (r) => {
      metrics.backupSucceeded(r.target, r.sizeBytes, r.finishedAt);
      await announce(formatBackupSuccess(r));
    },
    onFailure: async (target, error) => {
      metrics.backupFailed(target);
      await announce(formatBackupFailure(target, error));
    },
    onMissed: (target, last) => announce(formatBackupMissed(target, last)),
  };
  const pool = env.DATABASE_URL ? new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 }) : undefined;
  pool?.on("error", (err) => log.warn({ err }, "idle schedule-lock connection failed"));
  const lock = pool ? new PgScheduleLock({ pool }) : new MemoryScheduleLock();
  const scheduler = new BackupScheduler({
    jobs: targets.map((t) => ({ name: t.name, schedule: t.schedule })),
    lock,
    logger: log,
    run: async (name) => {
      await runBackupJob(findTarget(targets, name), { store, events, env: process.env, logger: log });
    },
  });
  scheduler.start();
  const missed = setInterval(() => {
    checkMissed(targets, { store, events, lock }).catch((err: unknown) => log.warn({ err }, "missed-backup check failed"));
  }, 10 * 60_000);
  missed.unref();
  return {
    ...(previews ? { previews } : {}),
    scheduler,
    async stop() {
      clearInterval(missed);
      await scheduler.stop();
      await pool?.end();
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
