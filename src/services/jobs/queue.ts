/**
 * The jobs domain: the keyed queue (this embedded one, and queue-pg.ts on PostgreSQL), the dispatcher that turns
 * door requests into jobs (dispatcher.ts), the sweeper (sweeper.ts), slot schedules (schedule.ts) and missed-webhook
 * redelivery (redeliver.ts). Keyed job queue. Infrastructure only: it knows job kinds as names; the wiring registers the runner's functions.
 *
 * Guarantees (the same ones the durable PostgreSQL queue must keep — see issue "durable jobs"):
 * - jobs with the same key never run at the same time, and run in arrival order;
 * - a job marked `supersedes` drops queued jobs of the same key and aborts the running one (its AbortSignal fires;
 *   the runner stops between steps and reports "superseded");
 * - the same `dedupeId` (e.g. X-GitHub-Delivery) is accepted once;
 * - at most `concurrency` jobs run at once across keys;
 * - `stop()` stops intake, aborts nothing that is running, and waits (bounded) for running jobs.
 *
 * This is the embedded implementation (one process, in memory): `npm start` works on a fresh machine with no
 * database. Jobs do not survive a restart here; the sweeper (level-triggered) converges what a restart lost.
 */
import type { Logger } from "../../logger.js";
import { SupersededError } from "../shared/errors.js";

export interface Job<P = unknown> {
  id: string;
  kind: string;
  key: string;
  payload: P;
  enqueuedAt: number;
}

export type JobHandler<P = unknown> = (job: Job<P>, signal: AbortSignal) => Promise<void>;

export interface EnqueueOptions<P> {
  kind: string;
  key: string;
  payload: P;
  dedupeId?: string;
  /** Drop queued jobs for this key and abort the running one. */
  supersedes?: boolean;
}

export interface QueueStats {
  queued: number;
  running: number;
  oldestQueuedAgeMs: number;
}

export interface Queue {
  register<P>(kind: string, handler: JobHandler<P>): void;
  enqueue<P>(options: EnqueueOptions<P>): Promise<{ jobId: string; deduplicated: boolean }>;
  /** Resolves when nothing is queued or running (tests and graceful shutdown). */
  onIdle(): Promise<void>;
  stats(): QueueStats;
  stop(timeoutMs?: number): Promise<void>;
}

export class QueueStoppedError extends Error {}

interface Slot {
  queue: Job[];
  running?: { job: Job; abort: AbortController };
}

const DEDUPE_MEMORY = 10_000;

export function createMemoryQueue(options: { concurrency?: number; logger?: Logger } = {}): Queue {
  const concurrency = options.concurrency ?? 4;
  const log = options.logger;
  const handlers = new Map<string, JobHandler>();
  const slots = new Map<string, Slot>();
  const seen = new Set<string>();
  let running = 0;
  let counter = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];

  const isIdle = () => running === 0 && [...slots.values()].every((s) => s.queue.length === 0 && !s.running);

  function settleIdle(): void {
    if (!isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  function pump(): void {
    if (stopped) return settleIdle();
    for (const [key, slot] of slots) {
      if (running >= concurrency) break;
      if (slot.running || slot.queue.length === 0) continue;
      const job = slot.queue.shift()!;
      const abort = new AbortController();
      slot.running = { job, abort };
      running++;
      const handler = handlers.get(job.kind);
      const work = handler ? handler(job, abort.signal) : Promise.reject(new Error(`no handler registered for job kind "${job.kind}"`));
      work
        .catch((err: unknown) => log?.error({ err, jobId: job.id, kind: job.kind, key }, `job ${job.kind} for ${key} failed`))
        .finally(() => {
          running--;
          slot.running = undefined;
          if (slot.queue.length === 0) slots.delete(key);
          pump();
          settleIdle();
        });
    }
    settleIdle();
  }

  return {
    register(kind, handler) {
      handlers.set(kind, handler as JobHandler);
    },
    async enqueue({ kind, key, payload, dedupeId, supersedes }) {
      if (stopped) throw new QueueStoppedError("the queue is stopping; not accepting jobs");
      if (dedupeId) {
        if (seen.has(dedupeId)) return { jobId: dedupeId, deduplicated: true };
        seen.add(dedupeId);
        if (seen.size > DEDUPE_MEMORY) seen.delete(seen.values().next().value!);
      }
      const job: Job = { id: `${Date.now().toString(36)}-${(++counter).toString(36)}`, kind, key, payload, enqueuedAt: Date.now() };
      const slot = slots.get(key) ?? { queue: [] };
      slots.set(key, slot);
      if (supersedes) {
        for (const dropped of slot.queue.splice(0)) log?.info({ jobId: dropped.id, kind: dropped.kind, key }, `superseded queued ${dropped.kind} for ${key}`);
        if (slot.running && !slot.running.abort.signal.aborted) {
          log?.info({ jobId: slot.running.job.id, key }, `superseding running ${slot.running.job.kind} for ${key}`);
          slot.running.abort.abort(new SupersededError(`superseded by a newer ${kind}`));
        }
      }
      slot.queue.push(job);
      queueMicrotask(pump);
      return { jobId: job.id, deduplicated: false };
    },
    onIdle() {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    stats() {
      let queued = 0;
      let oldest = Infinity;
      for (const slot of slots.values()) {
        queued += slot.queue.length;
        for (const j of slot.queue) oldest = Math.min(oldest, j.enqueuedAt);
      }
      return { queued, running, oldestQueuedAgeMs: queued ? Date.now() - oldest : 0 };
    },
    async stop(timeoutMs = 25_000) {
      stopped = true;
      for (const slot of slots.values()) slot.queue.length = 0;
      const idle = new Promise<void>((resolve) => {
        if (running === 0) resolve();
        else idleWaiters.push(resolve);
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
