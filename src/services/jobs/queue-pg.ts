/**
 * The durable keyed queue on PostgreSQL: the same `Queue` interface and guarantees as `createMemoryQueue`, across
 * replicas and restarts. pg-boss (12) does the queue mechanics; this file adds only what it does not give.
 *
 * What gives each guarantee (checked against a real server, see test/services/queue-pg.test.ts):
 * - **Per-key order and exclusivity**: one pg-boss queue with policy `key_strict_fifo`, `singletonKey` = the job key.
 *   pg-boss keeps a unique index on (queue, key) over active/retry/failed jobs and fetches a key's oldest job only.
 *   Two gaps are closed here: (1) cancelling an *active* job (supersede) frees the key at once, while its handler
 *   may still be finishing a step; (2) a lease that lapses (heartbeat lost) frees it too. So the worker also holds
 *   `pg_try_advisory_lock(hashtextextended('preview-bot:job:' || key, 0))` on a dedicated connection for the whole
 *   handler run, and a job waits (polling, abortable) for it. A killed process's session ends and releases it.
 * - **A failed job blocks its key** under `key_strict_fifo` (verified). Jobs are therefore never left failed: a
 *   permanent error, or a transient one on the last attempt, is reported through `onFailed` and the job completes
 *   with `{ failed }` as output. The only way a job still ends failed is a lease lapsing on its last attempt; the
 *   reaper (every `reapIntervalMs`) deletes such jobs, reporting each through `onFailed` exactly once.
 * - **Supersede**: queued jobs of the key are cancelled, and so is the running one, in the enqueue's transaction.
 *   The replica running it notices through pg-boss's heartbeat (`heartbeatRefreshSeconds`, 1 s: the claim is gone,
 *   pg-boss aborts `job.signal`) or at once when it is this process; the handler's signal then fires with a
 *   SupersededError and the runner stops between steps.
 * - **Dedupe**: `dedupeId` goes into `preview_bot_job_dedupe` (primary key) in the same transaction as the send,
 *   so the same X-GitHub-Delivery is accepted once across replicas and restarts (kept `dedupeRetentionDays`).
 * - **Enqueue retries**: an enqueue that failed transiently (a connection reset, PostgreSQL restarting) is tried again
 *   a few times within a webhook's time; dedupe makes a retry after a lost commit answer safe.
 * - **Retries**: transient errors (see isTransientError) are rethrown so pg-boss retries with exponential backoff
 *   (`retryLimit`, `retryDelaySeconds`, `retryDelayMaxSeconds`); the key stays held meanwhile (state `retry`).
 * - **Parking** (`JobControl.park`, a long wait on something outside): the job keeps its pg-boss claim and its key's
 *   advisory lock, and this process starts one more pg-boss worker for the wait's duration, so `concurrency` jobs
 *   can still be worked on; when the wait ends the extra worker stops after the job it may be running (for that
 *   moment one job more than `concurrency` runs). At most `maxParked` at once; beyond that a job waits in its slot.
 * - **Crash recovery**: the job's lease is pg-boss's heartbeat (`leaseSeconds`, ≥ 10); a dead worker's job goes back
 *   to `retry` on the next supervise pass and another replica runs it again. The runner is idempotent.
 *
 * Longer than 300 lines: the pg-boss adapter keeps every queue guarantee (per-key order, supersede across replicas,
 * dedupe, leases, retries) in one place, because each depends on the others' locking.
 */
import { describeError } from "../shared/format.js";
import pg from "pg";
import { PgBoss, type JobWithMetadata } from "pg-boss";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../metrics.js";
import type { Announcer } from "../shared/announcer.js";
import { isTransientError } from "../shared/errors.js";
import { SupersededError } from "../shared/errors.js";
import {
  QueueStoppedError,
  type EnqueueOptions,
  type Job,
  type JobHandler,
  type Queue,
  type QueueStats,
} from "./queue.js";
import { guardPoolClients } from "../shared/pg-pool.js";
import { createTableOnce } from "../shared/pg-tables.js";

export interface PgQueueOptions {
  /** Where the jobs live. Either a URL (the queue owns its pools) or a pool (pg-boss then uses it too). */
  connectionString?: string;
  pool?: pg.Pool;
  /** False for a producer only (a CLI, a web-only replica): enqueue, no workers. Default true. */
  work?: boolean;
  /** Jobs running at once in this process (across keys). Default 4. */
  concurrency?: number;
  /** Jobs that may be parked at once in this process, each with a worker of its own standing in. Default 8. */
  maxParked?: number;
  logger?: Logger;
  /** pg-boss schema (default "pgboss") and queue name (default "preview-bot-jobs"). */
  schema?: string;
  queueName?: string;
  /** Retries after the first attempt for transient errors (default 4), backoff base and cap in seconds. */
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryDelayMaxSeconds?: number;
  /** The lease: a job whose worker has not sent a heartbeat for this long is run again elsewhere. ≥ 10, default 30. */
  leaseSeconds?: number;
  /** Longest a single job may run (default 3600). */
  jobTimeoutSeconds?: number;
  /** How often pg-boss looks for expired leases (default 5). */
  superviseIntervalSeconds?: number;
  /** Fetch poll interval (default 500 ms, pg-boss's minimum). */
  pollIntervalMs?: number;
  reapIntervalMs?: number;
  dedupeRetentionDays?: number;
  isTransient?: (err: unknown) => boolean;
  /** Called once for every job that ends in failure (permanent error, retries exhausted, lease lost at the end). */
  onFailed?(job: Job, error: unknown): void | Promise<void>;
  /** Called each time a job is handed back for a retry (metrics). */
  onRetry?(job: Job, error: unknown): void;
  /** Counted: retries and jobs given up on, by kind. */
  metrics?: Pick<Metrics, "jobFailed" | "jobRetries">;
  /** Told of every job given up on. */
  announcer?: Announcer;
}

export type PgQueue = Queue;

interface Envelope {
  kind: string;
  key: string;
  payload: unknown;
  enqueuedAt: number;
}

interface Running {
  abort: AbortController;
  key: string;
}

const DEDUPE_TABLE = "preview_bot_job_dedupe";
/** Waits before the 2nd, 3rd and 4th try of an enqueue that failed transiently (under GitHub's 10 s webhook timeout). */
const ENQUEUE_BACKOFF_MS = [200, 1_000, 3_000];

const q = (schema: string, sqlName: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(sqlName)}`;

class PgBossQueue implements PgQueue {
  private readonly concurrency: number;
  private readonly maxParked: number;
  private parked = 0;
  private readonly log: Logger | undefined;
  private readonly name: string;
  private readonly schema: string;
  private readonly leaseSeconds: number;
  private readonly classify: (err: unknown) => boolean;
  private readonly ownPool: boolean;
  private readonly pool: pg.Pool;
  private readonly boss: PgBoss;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Connected and the schema made (enqueue needs only this). */
  private connected: Promise<void> | undefined;
  /** Workers and housekeeping running (start()). */
  private working: Promise<void> | undefined;
  private stopped = false;
  private table = "job";
  private cached: QueueStats = { queued: 0, running: 0, oldestQueuedAgeMs: 0 };

  constructor(private readonly options: PgQueueOptions) {
    if (!options.pool && !options.connectionString) throw new Error("createPgQueue needs a connectionString or a pool");
    this.concurrency = options.concurrency ?? 4;
    this.maxParked = options.maxParked ?? 8;
    this.log = options.logger;
    this.name = options.queueName ?? "preview-bot-jobs";
    this.schema = options.schema ?? "pgboss";
    this.leaseSeconds = Math.max(10, options.leaseSeconds ?? 30);
    this.classify = options.isTransient ?? isTransientError;
    this.ownPool = !options.pool;
    this.pool =
      options.pool ??
      new pg.Pool({
        connectionString: options.connectionString,
        // Each job (parked ones too) holds its key's advisory lock on a connection of its own.
        max: this.concurrency + this.maxParked + 4,
        application_name: "preview-bot-queue",
      });
    if (this.ownPool) this.pool.on("error", (err) => this.log?.warn({ err }, "idle queue connection failed"));
    guardPoolClients(this.pool);
    this.boss = new PgBoss({
      ...(options.connectionString
        ? { connectionString: options.connectionString }
        : { db: { executeSql: (text: string, values?: unknown[]) => this.pool.query(text, values) } }),
      schema: this.schema,
      schedule: false,
      // New jobs wake idle workers on every replica at once (polling stays as the floor).
      useListenNotify: Boolean(options.connectionString),
      // Lapsed leases are found by pg-boss's monitor pass, which runs no more often than monitorIntervalSeconds.
      superviseIntervalSeconds: options.superviseIntervalSeconds ?? 5,
      monitorIntervalSeconds: options.superviseIntervalSeconds ?? 5,
      // The ready count that lets workers fetch back-to-back while a backlog lasts (burstWhenReadyExceeds below).
      queueCacheIntervalSeconds: 2,
      application_name: "preview-bot-queue",
    });
    this.boss.on("error", (err) => this.log?.warn({ err }, "pg-boss reported an error"));
  }

  /** Connect and make the schema, once (built, the queue has opened no connection yet). */
  private ready(): Promise<void> {
    this.connected ??= this.connect().catch((err: unknown) => {
      this.connected = undefined; // the next use tries again
      throw new Error(`starting the PostgreSQL job queue (pg-boss schema "${this.schema}", queue "${this.name}")`, {
        cause: err,
      });
    });
    return this.connected;
  }

  private async connect(): Promise<void> {
    await this.boss.start();
    await this.ensureQueue();
    this.table = (await this.boss.getQueue(this.name))?.table ?? "job";
    await createTableOnce(
      this.pool,
      DEDUPE_TABLE,
      `create table if not exists ${DEDUPE_TABLE} (dedupe_id text primary key, job_id text not null, created_at timestamptz not null default now())`,
    );
  }

  /** Start the workers (unless `work: false`) and the housekeeping: the composition root's start step. */
  start(): Promise<void> {
    this.working ??= this.startWorkers();
    this.working.catch((err: unknown) => this.log?.error({ err }, "the PostgreSQL job queue did not start"));
    return this.working;
  }

  private async startWorkers(): Promise<void> {
    await this.ready();
    if (this.options.work !== false) await this.addWorkers(this.concurrency);
    this.every(this.options.reapIntervalMs ?? 5_000, () => this.reap());
    this.every(5_000, () => this.refreshStats());
    this.every(3_600_000, () => this.pruneDedupe());
  }

  /** `count` pg-boss workers on the queue, running jobs through runJob; returns their id (for offWork). */
  private addWorkers(count: number): Promise<string> {
    // Keep polling at the normal pace with LISTEN on too: retries come due by time, not by a NOTIFY.
    const pollSeconds = Math.max(0.5, (this.options.pollIntervalMs ?? 500) / 1000);
    return this.boss.work<Envelope>(
      this.name,
      {
        localConcurrency: count,
        batchSize: 1,
        includeMetadata: true,
        pollingIntervalSeconds: pollSeconds,
        notifyPollingIntervalSeconds: pollSeconds,
        heartbeatRefreshSeconds: 1,
        burstWhenReadyExceeds: 1,
      },
      async ([job]) => (job ? this.runJob(job as JobWithMetadata<Envelope>) : undefined),
    );
  }

  /** A worker stands in for the parked job while `wait` runs (see the header), unless maxParked are parked. */
  private async park<T>(key: string, wait: () => Promise<T>): Promise<T> {
    if (this.stopped || this.parked >= this.maxParked) {
      this.log?.info({ key, parked: this.parked }, `${key} waits in its slot: ${this.parked} jobs are parked already`);
      return wait();
    }
    this.parked++;
    let stand: string | undefined;
    try {
      stand = await this.addWorkers(1);
    } catch (err) {
      this.log?.warn({ err, key }, `no worker could stand in while ${key} waits; it waits in its slot`);
    }
    try {
      return await wait();
    } finally {
      this.parked--;
      if (stand) await this.boss.offWork(this.name, { id: stand, wait: false }).catch(() => undefined);
    }
  }

  private async ensureQueue(): Promise<void> {
    const o = this.options;
    const queueOptions = {
      policy: "key_strict_fifo" as const,
      retryLimit: o.retryLimit ?? 4,
      retryDelay: o.retryDelaySeconds ?? 2,
      retryBackoff: true,
      retryDelayMax: o.retryDelayMaxSeconds ?? 300,
      expireInSeconds: o.jobTimeoutSeconds ?? 3600,
      heartbeatSeconds: this.leaseSeconds,
      deleteAfterSeconds: 86_400,
      notify: true,
    };
    if (!(await this.boss.getQueue(this.name))) {
      await this.boss.createQueue(this.name, queueOptions).catch(async (err: unknown) => {
        if (!(await this.boss.getQueue(this.name))) throw err; // another replica created it first
      });
    } else {
      const { policy: _p, heartbeatSeconds: _h, ...updatable } = queueOptions;
      await this.boss.updateQueue(this.name, { ...updatable, heartbeatSeconds: this.leaseSeconds });
    }
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    const t = setInterval(
      () => void fn().catch((err: unknown) => this.log?.warn({ err }, "queue housekeeping failed")),
      ms,
    );
    t.unref();
    this.timers.push(t);
  }

  private async report(job: Job, error: unknown): Promise<void> {
    this.log?.error(
      { err: error, jobId: job.id, kind: job.kind, key: job.key },
      `job ${job.kind} for ${job.key} failed for good`,
    );
    try {
      this.options.metrics?.jobFailed(job.kind);
      await this.options.announcer?.announce?.(
        `preview-bot gave up on a job for ${job.key}: ${describeError(error).slice(0, 300)}`,
      );
      await this.options.onFailed?.(job, error);
    } catch (err) {
      this.log?.error({ err, jobId: job.id }, "the onFailed hook threw");
    }
  }

  /** Hold the per-key advisory lock on a dedicated connection, waiting (abortably) while another worker has it. */
  private async lockKey(key: string, signal: AbortSignal): Promise<pg.PoolClient | undefined> {
    const client = await this.pool.connect();
    try {
      for (;;) {
        const { rows } = await client.query<{ ok: boolean }>(
          "select pg_try_advisory_lock(hashtextextended($1, 0)) as ok",
          [`preview-bot:job:${key}`],
        );
        if (rows[0]?.ok) return client;
        if (signal.aborted) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    client.release();
    return undefined;
  }

  private async unlockKey(client: pg.PoolClient, key: string): Promise<void> {
    try {
      await client.query("select pg_advisory_unlock(hashtextextended($1, 0))", [`preview-bot:job:${key}`]);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true); // a broken session drops the lock with it
    }
  }

  private async runJob(raw: JobWithMetadata<Envelope>): Promise<unknown> {
    const job = view(raw.id, raw.data);
    const abort = new AbortController();
    const onClaimLost = () =>
      abort.abort(
        new SupersededError(
          `${job.kind} for ${job.key} was cancelled: superseded by a newer job, or this worker's lease lapsed`,
        ),
      );
    raw.signal.addEventListener("abort", onClaimLost, { once: true });
    this.running.set(raw.id, { abort, key: job.key });
    let lock: pg.PoolClient | undefined;
    try {
      lock = await this.lockKey(job.key, abort.signal);
      if (!lock) return { superseded: true };
      const handler = this.handlers.get(job.kind);
      if (!handler) throw new Error(`no handler registered for job kind "${job.kind}"`);
      await handler(job, abort.signal, { park: (wait) => this.park(job.key, wait) });
      return { ok: true };
    } catch (err) {
      return await this.settleFailure(job, raw, abort, err);
    } finally {
      raw.signal.removeEventListener("abort", onClaimLost);
      this.running.delete(raw.id);
      if (lock) await this.unlockKey(lock, job.key);
    }
  }

  /** A stopped (superseded) job completes; a transient error is rethrown for pg-boss to retry; the rest is reported. */
  private async settleFailure(
    job: Job,
    raw: JobWithMetadata<Envelope>,
    abort: AbortController,
    err: unknown,
  ): Promise<unknown> {
    if (abort.signal.aborted) {
      this.log?.info(
        { jobId: job.id, key: job.key },
        `${job.kind} for ${job.key} stopped: ${String((abort.signal.reason as Error)?.message ?? "aborted")}`,
      );
      return { superseded: true };
    }
    if (this.classify(err) && raw.retryCount < raw.retryLimit) {
      this.options.metrics?.jobRetries.inc({ kind: job.kind });
      this.options.onRetry?.(job, err);
      this.log?.warn(
        { err, jobId: job.id, key: job.key, attempt: raw.retryCount + 1 },
        `${job.kind} for ${job.key} failed with a transient error; pg-boss retries it with backoff`,
      );
      throw err;
    }
    await this.report(job, err);
    return { failed: describeError(err) };
  }

  /** Jobs pg-boss failed itself (a lease lapsed on the last attempt) block their key: report and delete them. */
  private async reap(): Promise<void> {
    const { rows } = await this.pool.query<{ id: string; data: Envelope; output: { message?: string } | null }>(
      `select id, data, output from ${q(this.schema, this.table)} where name = $1 and state = 'failed' order by created_on limit 50`,
      [this.name],
    );
    for (const row of rows) {
      const res = (await this.boss.deleteJob(this.name, row.id)) as { affected?: number };
      if (!res.affected) continue; // another replica reaped it
      await this.report(
        view(row.id, row.data),
        new Error(
          `the job's worker stopped answering and it ran out of attempts${row.output?.message ? `: ${row.output.message}` : ""}`,
        ),
      );
    }
  }

  private async refreshStats(): Promise<void> {
    const { rows } = await this.pool.query<{ queued: string; oldest: Date | null }>(
      `select count(*) as queued, min(created_on) as oldest from ${q(this.schema, this.table)} where name = $1 and state < 'active'`,
      [this.name],
    );
    const queued = Number(rows[0]?.queued ?? 0);
    this.cached = {
      queued,
      running: this.running.size,
      oldestQueuedAgeMs: queued && rows[0]?.oldest ? Date.now() - rows[0].oldest.getTime() : 0,
    };
  }

  private async pruneDedupe(): Promise<void> {
    await this.pool.query(`delete from ${DEDUPE_TABLE} where created_at < now() - make_interval(days => $1)`, [
      this.options.dedupeRetentionDays ?? 7,
    ]);
  }

  private async pending(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `select count(*) as n from ${q(this.schema, this.table)} where name = $1 and state < 'completed'`,
      [this.name],
    );
    return Number(rows[0]?.n ?? 0);
  }

  register<P>(kind: string, handler: JobHandler<P>): void {
    this.handlers.set(kind, handler as JobHandler);
  }

  /**
   * Enqueue in one transaction. A transient failure (a connection reset or lost, PostgreSQL restarting: see
   * isTransientError) is tried again after `ENQUEUE_BACKOFF_MS`, within what a webhook may take: the transaction
   * either committed or changed nothing, and when its commit's answer was lost the delivery id finds it
   * (`deduplicated`).
   */
  async enqueue<P>(options: EnqueueOptions<P>): Promise<{ jobId: string; deduplicated: boolean }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.enqueueOnce(options);
      } catch (err) {
        const wait = ENQUEUE_BACKOFF_MS[attempt];
        if (wait === undefined || this.stopped || !this.classify(err)) throw err;
        this.log?.warn(
          { err, key: options.key, kind: options.kind, attempt: attempt + 1 },
          `${describeError(err)}; trying again in ${wait} ms`,
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async enqueueOnce<P>({
    kind,
    key,
    payload,
    dedupeId,
    supersedes,
  }: EnqueueOptions<P>): Promise<{ jobId: string; deduplicated: boolean }> {
    if (this.stopped) throw new QueueStoppedError("the queue is stopping; not accepting jobs");
    await this.ready();
    const client = await this.pool.connect();
    const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values) };
    let cancelled: string[] = [];
    let broken: Error | undefined;
    try {
      await client.query("begin");
      if (dedupeId) {
        const seen = await this.claimDedupe(client, dedupeId);
        if (seen) return seen;
      }
      if (supersedes) cancelled = await this.cancelKey(client, key, db);
      const envelope: Envelope = { kind, key, payload, enqueuedAt: Date.now() };
      const jobId = await this.boss.send(this.name, envelope as unknown as object, { singletonKey: key, db });
      if (!jobId) throw new Error("pg-boss did not accept the job");
      if (dedupeId)
        await client.query(`update ${DEDUPE_TABLE} set job_id = $2 where dedupe_id = $1`, [dedupeId, jobId]);
      await client.query("commit");
      this.abortCancelled(cancelled, key, kind);
      return { jobId, deduplicated: false };
    } catch (err) {
      // A connection that failed transiently is not given back to the pool: the retry takes another.
      if (this.classify(err)) broken = err instanceof Error ? err : new Error(String(err));
      else await client.query("rollback").catch(() => undefined);
      throw new Error(`enqueueing ${kind} for ${key}`, { cause: err });
    } finally {
      client.release(broken);
    }
  }

  /**
   * Claim the delivery id in the enqueue's transaction; when it was seen before, roll back and say which job has it.
   */
  private async claimDedupe(
    client: pg.PoolClient,
    dedupeId: string,
  ): Promise<{ jobId: string; deduplicated: true } | undefined> {
    const claimed = await client.query(
      `insert into ${DEDUPE_TABLE} (dedupe_id, job_id) values ($1, '') on conflict do nothing returning dedupe_id`,
      [dedupeId],
    );
    if (claimed.rowCount === 1) return undefined;
    await client.query("rollback");
    const { rows } = await client.query<{ job_id: string }>(`select job_id from ${DEDUPE_TABLE} where dedupe_id = $1`, [
      dedupeId,
    ]);
    return { jobId: rows[0]?.job_id || dedupeId, deduplicated: true };
  }

  /** Cancel the key's queued and running jobs (in the enqueue's transaction). */
  private async cancelKey(
    client: pg.PoolClient,
    key: string,
    db: { executeSql(text: string, values?: unknown[]): Promise<pg.QueryResult> },
  ): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `select id from ${q(this.schema, this.table)} where name = $1 and singleton_key = $2 and state < 'completed' for update`,
      [this.name, key],
    );
    const ids = rows.map((r) => r.id);
    if (ids.length) await this.boss.cancel(this.name, ids, { db });
    return ids;
  }

  /** A cancelled job running in this process stops at once (other replicas notice through pg-boss's heartbeat). */
  private abortCancelled(ids: string[], key: string, kind: string): void {
    for (const id of ids) {
      const r = this.running.get(id);
      if (r) {
        this.log?.info({ jobId: id, key }, `superseding running job for ${key}`);
        r.abort.abort(new SupersededError(`superseded by a newer ${kind}`));
      } else this.log?.info({ jobId: id, key }, `superseded job ${id} for ${key}`);
    }
  }

  async onIdle(): Promise<void> {
    await this.ready();
    for (;;) {
      await this.reap();
      if (this.running.size === 0 && (await this.pending()) === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async activeKeys(): Promise<ReadonlySet<string>> {
    await this.ready();
    const { rows } = await this.pool.query<{ key: string }>(
      `select distinct singleton_key as key from ${q(this.schema, this.table)} where name = $1 and state < 'completed' and singleton_key is not null`,
      [this.name],
    );
    return new Set(rows.map((r) => r.key));
  }

  stats(): QueueStats {
    return { ...this.cached, running: this.running.size - this.parked, parked: this.parked };
  }

  async stop(timeoutMs = 25_000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.connected) {
      try {
        await this.working;
      } catch {
        // the workers never started: nothing to stop but pg-boss and the pools
      }
    }
    await this.boss
      .stop({ graceful: true, timeout: timeoutMs, close: true })
      .catch((err: unknown) => this.log?.warn({ err }, "stopping pg-boss"));
    if (this.ownPool) await this.pool.end();
  }
}

function view(id: string, env: Envelope): Job {
  return { id, kind: env.kind, key: env.key, payload: env.payload, enqueuedAt: env.enqueuedAt };
}

export function createPgQueue(options: PgQueueOptions): PgQueue {
  return new PgBossQueue(options);
}

export { isTransientError };
