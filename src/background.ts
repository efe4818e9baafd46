/**
 * The bot's scheduled work, wired from the environment: backups of the configured targets and the sweeper. Each
 * schedule fires once per slot across replicas (claimed in PostgreSQL with DATABASE_URL, in memory otherwise).
 * Results go to Slack and /metrics; none of it can fail the bot.
 */
import type pg from "pg";
import { variablesOf, type Env } from "./env.js";
import type { Logger } from "./logger.js";
import {
  blobStoreFromEnv,
  checkMissed,
  findTarget,
  listBackups,
  formatBackupFailure,
  formatBackupMissed,
  formatBackupSuccess,
  loadTargets,
  runBackupJob,
  type BackupEvents,
} from "./services/data/backups/index.js";
import { MemoryScheduleLock, PgScheduleLock, SlotScheduler, type ScheduleLock } from "./services/jobs/schedule.js";
import { createPreviewBackups, type PreviewBackups } from "./services/data/backups/previews.js";
import type { BackupTargets } from "./handlers/slack.js";
import type { Metrics } from "./services/metrics.js";
import type { Notifier } from "./services/chat/notifier.js";
import { createSweepScheduler, type Sweeper } from "./services/preview/reconcile/sweeper.js";

export function scheduleLock(pool: pg.Pool | undefined): ScheduleLock {
  return pool ? new PgScheduleLock({ pool }) : new MemoryScheduleLock();
}

export interface BackupWiring {
  /** For the runner: `/preview backup`, final backups, `database.seedFrom`. */
  previews?: PreviewBackups;
  /** For Slack: `/preview backup|backups <target>`. */
  targets?: BackupTargets;
  scheduler?: SlotScheduler;
  /**
   * Alert for targets with no successful backup within two schedule intervals (once per slot across replicas).
   * Runs every 10 minutes; a target counts from when this process started scheduling it, so a new one is quiet.
   */
  checkMissed?(now?: Date): Promise<string[]>;
  stop(): Promise<void>;
}

/** Backups, when blob storage is configured. */
export function startBackups(
  env: Env,
  opts: { logger: Logger; metrics: Metrics; notifier?: Notifier; lock: ScheduleLock },
): BackupWiring {
  const log = opts.logger.child({ component: "backups" });
  if (!env.AZURE_STORAGE_ACCOUNT_URL && !env.AZURE_STORAGE_CONNECTION_STRING) return { stop: async () => {} };
  const variables = variablesOf(env);
  const store = blobStoreFromEnv(variables);
  const targets = loadTargets(variables);
  const previews = env.PREVIEW_DATABASE_URL
    ? createPreviewBackups({
        store,
        adminUrl: env.PREVIEW_DATABASE_URL,
        container: env.PREVIEW_BACKUP_CONTAINER,
        targets,
        adminExtensions: env.PREVIEW_DATABASE_ADMIN_EXTENSIONS,
        env: variables,
        logger: log,
      })
    : undefined;
  if (targets.length === 0) return { ...(previews ? { previews } : {}), stop: async () => {} };

  const announce = async (text: string) => {
    log.info(text);
    await opts.notifier?.announce?.(text);
  };
  const events: BackupEvents = {
    onSuccess: async (r) => {
      opts.metrics.backupSucceeded(r.target, r.sizeBytes, r.finishedAt);
      await announce(formatBackupSuccess(r));
    },
    onFailure: async (target, error) => {
      opts.metrics.backupFailed(target);
      await announce(formatBackupFailure(target, error));
    },
    onMissed: (target, last) => announce(formatBackupMissed(target, last)),
  };
  const scheduler = new SlotScheduler({
    jobs: targets.map((t) => ({ name: t.name, schedule: t.schedule })),
    lock: opts.lock,
    logger: log,
    run: async (name) => {
      await runBackupJob(findTarget(targets, name), { store, events, env: variables, logger: log });
    },
  });
  scheduler.start();
  const backupTargets: BackupTargets = {
    names: () => targets.map((t) => t.name),
    list: async (name) =>
      (await listBackups(store, findTarget(targets, name))).map((b) => ({
        name: b.name,
        createdAt: b.time.toISOString(),
        sizeBytes: b.size,
      })),
    run: async (name) => {
      await runBackupJob(findTarget(targets, name), { store, events, env: variables, logger: log });
    },
    // `allowedRepos` on a target (optional until every target schema has it): who may use its data from Slack.
    allowedRepos: (name) => (findTarget(targets, name) as { allowedRepos?: readonly string[] }).allowedRepos,
  };
  const since = new Date();
  const missedNow = (now = new Date()) => checkMissed(targets, { store, events, lock: opts.lock, since, now });
  const missed = setInterval(() => {
    missedNow().catch((err: unknown) => log.warn({ err }, "missed-backup check failed"));
  }, 10 * 60_000);
  missed.unref();
  return {
    ...(previews ? { previews } : {}),
    targets: backupTargets,
    scheduler,
    checkMissed: missedNow,
    async stop() {
      clearInterval(missed);
      await scheduler.stop();
    },
  };
}

/** The sweeper on its schedule (every 10 minutes), reporting what it fixed to Slack. */
export function startSweeps(
  sweeper: Sweeper,
  opts: { logger: Logger; notifier?: Notifier; lock: ScheduleLock },
): SlotScheduler {
  const scheduler = createSweepScheduler({
    sweeper,
    lock: opts.lock,
    logger: opts.logger,
    onResult: async (result) => {
      if (result.dispatched.length || result.errors.length) await opts.notifier?.announce?.(result.text);
    },
  });
  scheduler.start(60_000);
  return scheduler;
}
