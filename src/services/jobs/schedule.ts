/**
 * Schedules that fire once per slot however many replicas run (backups, sweeps, redelivery): before running a job
 * for a slot, a replica claims (name, slot) in a shared lock; only the one whose claim succeeds runs it. The PostgreSQL
 * lock is a small table with a unique (name, slot) and `INSERT … ON CONFLICT DO NOTHING RETURNING`.
 */
import { hostname } from "node:os";
import type pg from "pg";
import type { Logger } from "../../logger.js";
import { parseCron, previousSlot, type Cron } from "../shared/cron.js";
import type { ScheduleLock } from "../shared/schedule-lock.js";
import { createTableOnce } from "../shared/pg-tables.js";

export type { ScheduleLock };

export class MemoryScheduleLock implements ScheduleLock {
  private readonly claimed = new Set<string>();
  async claim(name: string, slotIso: string): Promise<boolean> {
    const key = JSON.stringify([name, slotIso]);
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }
}

/**
 * A lock that claims nothing while `allows()` is false: without DATABASE_URL only the job Lease holder runs schedules.
 */
export class GatedScheduleLock implements ScheduleLock {
  constructor(
    private readonly inner: ScheduleLock,
    private readonly gate: { allows(): boolean },
  ) {}
  async claim(name: string, slotIso: string): Promise<boolean> {
    return this.gate.allows() && this.inner.claim(name, slotIso);
  }
}

const SCHEDULE_LOCK_TABLE = "preview_bot_schedule_slots";

export class PgScheduleLock implements ScheduleLock {
  private readonly pool: pg.Pool;
  private readonly owner: string;
  private ready: Promise<void> | undefined;

  constructor(opts: { pool: pg.Pool; owner?: string }) {
    this.pool = opts.pool;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}`;
  }

  /** Create the table if needed (safe to call from several replicas at once). */
  init(): Promise<void> {
    this.ready ??= createTableOnce(
      this.pool,
      SCHEDULE_LOCK_TABLE,
      `create table if not exists ${SCHEDULE_LOCK_TABLE} (
         name text not null,
         slot timestamptz not null,
         claimed_by text not null,
         claimed_at timestamptz not null default now(),
         primary key (name, slot))`,
    ).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async claim(name: string, slotIso: string): Promise<boolean> {
    await this.init();
    try {
      const res = await this.pool.query(
        `insert into ${SCHEDULE_LOCK_TABLE} (name, slot, claimed_by) values ($1, $2, $3) on conflict do nothing returning name`,
        [name, slotIso, this.owner],
      );
      return res.rowCount === 1;
    } catch (cause) {
      throw new Error(`claiming schedule slot ${name} @ ${slotIso}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Forget claims older than `before` (housekeeping). */
  async prune(before: Date): Promise<number> {
    await this.init();
    const res = await this.pool.query(`delete from ${SCHEDULE_LOCK_TABLE} where slot < $1`, [before.toISOString()]);
    return res.rowCount ?? 0;
  }
}

export interface ScheduledJob {
  name: string;
  /** 5-field cron, UTC. */
  schedule: string;
}

export interface SchedulerOptions {
  jobs: ScheduledJob[];
  lock: ScheduleLock;
  /** Runs one job for one slot; should report its own outcome (BackupEvents). Rejections are logged. */
  run(name: string, slot: Date): Promise<void>;
  /** A slot older than this when first seen is skipped, not run late (default 15 minutes). */
  maxLatenessMs?: number;
  logger: Logger;
}

export interface Fired {
  name: string;
  slot: string;
}

export class SlotScheduler {
  private readonly jobs: Array<ScheduledJob & { cron: Cron }>;
  private readonly opts: SchedulerOptions;
  private readonly log: Logger;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.jobs = opts.jobs.map((j) => ({ ...j, cron: parseCron(j.schedule) }));
    this.log = opts.logger.child({ component: "backup-scheduler" });
  }

  /** Claim and start every job whose latest slot is due; returns what this instance fired. */
  async tick(now: Date = new Date()): Promise<Fired[]> {
    const fired: Fired[] = [];
    const maxLateness = this.opts.maxLatenessMs ?? 15 * 60_000;
    for (const job of this.jobs) {
      const slot = previousSlot(job.cron, now);
      if (now.getTime() - slot.getTime() > maxLateness) continue;
      const slotIso = slot.toISOString();
      let claimed: boolean;
      try {
        claimed = await this.opts.lock.claim(job.name, slotIso);
      } catch (err) {
        this.log.error({ err, job: job.name, slot: slotIso }, "schedule claim failed");
        continue;
      }
      if (!claimed) continue;
      fired.push({ name: job.name, slot: slotIso });
      const p: Promise<void> = this.opts
        .run(job.name, slot)
        .catch((err: unknown) => this.log.error({ err, job: job.name, slot: slotIso }, "scheduled run failed"))
        .finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
    return fired;
  }

  /** Resolves when every run started so far has settled. */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  start(everyMs = 30_000): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => void this.tick().catch((err: unknown) => this.log.error({ err }, "schedule tick failed")),
      everyMs,
    );
    this.timer.unref();
    void this.tick().catch((err: unknown) => this.log.error({ err }, "schedule tick failed"));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }
}
