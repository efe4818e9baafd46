/**
 * Backups as the bot runs them: one `backup` job per configured target, keyed per target, whoever asks — the
 * schedule (once per slot across replicas, claimed in the schedule lock), Slack `/preview backup <target>`, or the
 * CLI's queue. Retries, one-at-a-time per target and crash recovery come from the queue: a transient failure
 * (network, a 5xx, a PostgreSQL restart) is reported and handed back to the queue to be run again, and a backup a
 * crash interrupts is never committed (the upload ends only after pg_dump exits 0; backup.ts).
 *
 * Also here: the preview databases' backups (previews.ts) for the runner, what the doors and the page list, the
 * target rules the intake checks, and the missed-backup alarm. Built without starting anything: the schedule and the
 * alarm start when the composition root starts them.
 */
import type { Logger } from "../../../logger.js";
import type { Metrics } from "../../metrics.js";
import type { Announcer } from "../../shared/announcer.js";
import type { AnswerSlack, BackupJob, BackupReads } from "../../shared/dispatch.js";
import { nextSlot } from "../../shared/cron.js";
import { isTransientError } from "../../shared/errors.js";
import { describeError } from "../../shared/format.js";
import type { Databases } from "../../shared/preview.js";
import type { ScheduleLock } from "../../shared/schedule-lock.js";
import type { BlobStore } from "./blob-store.js";
import { listBackups } from "./catalog.js";
import { runBackupJob } from "./job.js";
import { createPreviewBackups, type PreviewBackups } from "./previews.js";
import {
  checkMissed,
  formatBackupFailure,
  formatBackupMissed,
  formatBackupSuccess,
  type BackupEvents,
} from "./report.js";
import { findTarget, type BackupTarget } from "./targets.js";

export interface BackupServiceOptions {
  store: BlobStore;
  targets: BackupTarget[];
  /** The variables the targets' connections and the PostgreSQL tools read (passwordEnv, PATH, PG_BIN_DIR). */
  variables: NodeJS.ProcessEnv;
  /** For preview databases' backups: the admin URL (PREVIEW_DATABASE_URL) and the container. */
  previews?: { adminUrl: string; container: string; adminExtensions: readonly string[] };
  databases?: Pick<Databases, "list">;
  metrics?: Pick<Metrics, "backupSucceeded" | "backupFailed">;
  announcer?: Announcer;
  answerSlack?: AnswerSlack;
  logger: Logger;
}

export interface BackupService {
  /** The runner's: `/preview backup`, final backups, `database.seedFrom`. */
  previews?: PreviewBackups;
  /** What the doors and the page list. */
  reads: BackupReads;
  /** The configured targets' names and who may use each (the intake's rules). */
  rules: { names(): string[]; allowedRepos(name: string): readonly string[] | undefined };
  /** The queue's handler for `backup` jobs. Throws a transient failure (after reporting it) so the queue retries. */
  run(job: BackupJob): Promise<void>;
  /** The targets' schedules (cron), for the slot scheduler the composition root starts: each slot enqueues a job. */
  schedules: Array<{ name: string; schedule: string }>;
  /** Alarm for targets with no successful backup within two schedule intervals (once per slot across replicas). */
  checkMissed(lock: ScheduleLock, since: Date, now?: Date): Promise<string[]>;
}

export function createBackupService(o: BackupServiceOptions): BackupService {
  const log = o.logger.child({ component: "backups" });
  const previews = o.previews
    ? createPreviewBackups({
        store: o.store,
        adminUrl: o.previews.adminUrl,
        container: o.previews.container,
        targets: o.targets,
        adminExtensions: o.previews.adminExtensions,
        env: o.variables,
        logger: log,
      })
    : undefined;
  const announce = async (text: string) => {
    log.info(text);
    await o.announcer?.announce?.(text);
  };
  const events: BackupEvents = {
    onSuccess: async (r) => {
      o.metrics?.backupSucceeded(r.target, r.sizeBytes, r.finishedAt);
      await announce(formatBackupSuccess(r));
    },
    onFailure: async (target, error) => {
      o.metrics?.backupFailed(target);
      await announce(formatBackupFailure(target, error));
    },
    onMissed: (target, last) => announce(formatBackupMissed(target, last)),
  };

  return {
    ...(previews ? { previews } : {}),
    reads: {
      async ofPreview(k) {
        if (!previews || !o.databases) return [];
        const key = `${k.owner}/${k.repo}#${k.number}`;
        const out = [];
        for (const db of (await o.databases.list()).filter((d) => d.key === key)) {
          for (const b of await previews.list(db))
            out.push({
              name: b.name,
              createdAt: b.time.toISOString(),
              ...(b.size !== undefined ? { sizeBytes: b.size } : {}),
            });
        }
        return out;
      },
      targets: () => o.targets.map((t) => t.name),
      overview: (now = new Date()) =>
        Promise.all(
          o.targets.map(async (t) => {
            const view = {
              name: t.name,
              ...(t.allowedRepos ? { allowedRepos: t.allowedRepos } : {}),
              nextRun: nextSlot(t.schedule, now).toISOString(),
            };
            try {
              const last = (await listBackups(o.store, t))[0];
              if (!last) return view;
              return {
                ...view,
                lastSuccess: last.time.toISOString(),
                sizeBytes: last.size,
                ...(last.verified ? { verified: last.verified } : {}),
              };
            } catch (err) {
              log.warn({ err, target: t.name }, "could not list a target's backups for the page");
              return { ...view, lastError: `could not list its backups: ${describeError(err)}` };
            }
          }),
        ),
      ofTarget: async (name) =>
        (await listBackups(o.store, findTarget(o.targets, name))).map((b) => ({
          name: b.name,
          createdAt: b.time.toISOString(),
          sizeBytes: b.size,
        })),
    },
    rules: {
      names: () => o.targets.map((t) => t.name),
      allowedRepos: (name) => findTarget(o.targets, name).allowedRepos,
    },
    async run(job) {
      const target = findTarget(o.targets, job.target);
      const result = await runBackupJob(target, { store: o.store, events, env: o.variables, logger: log });
      if (job.slack && o.answerSlack) {
        const text = result.ok ? formatBackupSuccess(result.value) : formatBackupFailure(target.name, result.error);
        await o.answerSlack(job.slack, text).catch((err: unknown) => log.warn({ err }, "could not answer in Slack"));
      }
      if (!result.ok && isTransientError(result.error)) throw result.error; // the queue runs it again
    },
    schedules: o.targets.map((t) => ({ name: t.name, schedule: t.schedule })),
    checkMissed: (lock, since, now = new Date()) =>
      checkMissed(o.targets, { store: o.store, events, lock, since, now }),
  };
}
