/**
 * The keyed job queue: the `Queue` interface and its embedded implementation (the durable one is queue-pg.ts). It
 * knows job kinds only as names; the composition root registers their handlers.
 *
 * Guarantees (the same ones the durable PostgreSQL queue must keep — see issue "durable jobs"):
 * - jobs with the same key never run at the same time, and run in arrival order;
 * - a job marked `supersedes` drops queued jobs of the same key and aborts the running one (its AbortSignal fires;
 *   the runner stops between steps and reports "superseded");
 * - the same `dedupeId` (e.g. X-GitHub-Delivery) is accepted once;
 * - at most `concurrency` jobs run at once across keys; a job that waits on something outside (an image being built)
 *   parks (`JobControl.park`): it keeps its key but gives its slot to another key's job until the wait ends;
 * - `stop()` stops intake, aborts nothing that is running, and waits (bounded) for running jobs.
 *
 * This is the embedded implementation (one process, in memory): `npm start` works on a fresh machine with no
 * database. Jobs do not survive a restart here; the sweeper (level-triggered) converges what a restart lost. With
 * several replicas a gate (queue-lease.ts) lets only one of them start jobs; the others keep what they accepted
 * until it opens.
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

/** What a running job may ask of its queue. */
export interface JobControl {
  /**
   * Run `wait` without holding one of the queue's work slots: the job keeps its key (nothing else of the key runs, and
   * a superseding job still aborts its signal), but another key's job may start meanwhile. The slot is taken back
   * before `park` returns (parked jobs coming back go before new jobs). For long waits on something outside the bot.
   */
  park<T>(wait: () => Promise<T>): Promise<T>;
}

/** A control for jobs run outside a queue (the CLI, tests): parking changes nothing. */
export const UNPARKED: JobControl = { park: (wait) => wait() };

export type JobHandler<P = unknown> = (job: Job<P>, signal: AbortSignal, control: JobControl) => Promise<void>;

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
  /** Jobs parked (waiting outside, their slot given to others), in this process. */
  parked?: number;
}

export interface Queue {
  register<P>(kind: string, handler: JobHandler<P>): void;
  /**
   * Start running jobs (the composition root's start step; built, a queue runs nothing and holds no connection).
   * Enqueueing works before it: the jobs wait.
   */
  start(): Promise<void>;
  enqueue<P>(options: EnqueueOptions<P>): Promise<{ jobId: string; deduplicated: boolean }>;
  /** Resolves when nothing is queued or running (tests and graceful shutdown). */
  onIdle(): Promise<void>;
  /** Keys with a job queued, waiting for a retry, or running (across replicas for the durable queue). */
  activeKeys(): Promise<ReadonlySet<string>>;
  stats(): QueueStats;
  stop(timeoutMs?: number): Promise<void>;
}

export class QueueStoppedError extends Error {}

interface Slot {
  queue: Job[];
  running?: { job: Job; abort: AbortController };
}

const DEDUPE_MEMORY = 10_000;

/** Whether this process may start jobs now (the embedded queue's one-per-fleet gate), and when that changes. */
export interface JobGate {
  allows(): boolean;
  onChange(listener: () => void): void;
}

export interface MemoryQueueOptions {
  concurrency?: number;
  logger?: Logger;
  gate?: JobGate;
}

class MemoryQueue implements Queue {
  private readonly concurrency: number;
  private readonly log: Logger | undefined;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly slots = new Map<string, Slot>();
  private readonly seen = new Set<string>();
  private running = 0;
  /** Jobs in `park`: their key held, their slot not. */
  private parked = 0;
  /** Parked jobs whose wait ended, waiting for a slot back (before any new job). */
  private resuming: Array<() => void> = [];
  private counter = 0;
  private stopped = false;
  private started = false;
  private idleWaiters: Array<() => void> = [];

  private readonly gate: JobGate | undefined;

  constructor(options: MemoryQueueOptions) {
    this.concurrency = options.concurrency ?? 4;
    this.log = options.logger;
    this.gate = options.gate;
    this.gate?.onChange(() => queueMicrotask(() => this.pump()));
  }

  private isIdle(): boolean {
    return (
      this.running === 0 &&
      this.parked === 0 &&
      [...this.slots.values()].every((s) => s.queue.length === 0 && !s.running)
    );
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Start what may start: the oldest job of each idle key, up to the concurrency limit. */
  private pump(): void {
    // A parked job coming back is a job already started: it gets its slot whatever the gate says, and first.
    while (this.resuming.length > 0 && this.running < this.concurrency) this.resuming.shift()!();
    if (this.stopped) return this.settleIdle();
    if (!this.started) return;
    if (this.gate && !this.gate.allows()) return;
    for (const [key, slot] of this.slots) {
      if (this.running >= this.concurrency) break;
      if (slot.running || slot.queue.length === 0) continue;
      this.run(key, slot, slot.queue.shift()!);
    }
    this.settleIdle();
  }

  private run(key: string, slot: Slot, job: Job): void {
    const abort = new AbortController();
    slot.running = { job, abort };
    this.running++;
    const handler = this.handlers.get(job.kind);
    const work = handler
      ? handler(job, abort.signal, { park: (wait) => this.park(wait) })
      : Promise.reject(new Error(`no handler registered for job kind "${job.kind}"`));
    work
      .catch((err: unknown) =>
        this.log?.error({ err, jobId: job.id, kind: job.kind, key }, `job ${job.kind} for ${key} failed`),
      )
      .finally(() => {
        this.running--;
        slot.running = undefined;
        if (slot.queue.length === 0) this.slots.delete(key);
        this.pump();
        this.settleIdle();
      });
  }

  /** Give the slot up while `wait` runs; take one back (before new jobs) when it ends. */
  private async park<T>(wait: () => Promise<T>): Promise<T> {
    this.running--;
    this.parked++;
    queueMicrotask(() => this.pump());
    try {
      return await wait();
    } finally {
      await new Promise<void>((resolve) => {
        this.resuming.push(() => {
          this.running++;
          this.parked--;
          resolve();
        });
        this.pump();
      });
    }
  }

  register<P>(kind: string, handler: JobHandler<P>): void {
    this.handlers.set(kind, handler as JobHandler);
  }

  async start(): Promise<void> {
    this.started = true;
    queueMicrotask(() => this.pump());
  }

  async enqueue<P>({
    kind,
    key,
    payload,
    dedupeId,
    supersedes,
  }: EnqueueOptions<P>): Promise<{ jobId: string; deduplicated: boolean }> {
    if (this.stopped) throw new QueueStoppedError("the queue is stopping; not accepting jobs");
    if (dedupeId) {
      if (this.seen.has(dedupeId)) return { jobId: dedupeId, deduplicated: true };
      this.seen.add(dedupeId);
      if (this.seen.size > DEDUPE_MEMORY) this.seen.delete(this.seen.values().next().value!);
    }
    const job: Job = {
      id: `${Date.now().toString(36)}-${(++this.counter).toString(36)}`,
      kind,
      key,
      payload,
      enqueuedAt: Date.now(),
    };
    const slot = this.slots.get(key) ?? { queue: [] };
    this.slots.set(key, slot);
    if (supersedes) this.supersede(key, slot, kind);
    slot.queue.push(job);
    queueMicrotask(() => this.pump());
    return { jobId: job.id, deduplicated: false };
  }

  /** Drop the key's queued jobs and abort its running one (the runner stops between steps). */
  private supersede(key: string, slot: Slot, kind: string): void {
    for (const dropped of slot.queue.splice(0))
      this.log?.info({ jobId: dropped.id, kind: dropped.kind, key }, `superseded queued ${dropped.kind} for ${key}`);
    if (slot.running && !slot.running.abort.signal.aborted) {
      this.log?.info({ jobId: slot.running.job.id, key }, `superseding running ${slot.running.job.kind} for ${key}`);
      slot.running.abort.abort(new SupersededError(`superseded by a newer ${kind}`));
    }
  }

  onIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async activeKeys(): Promise<ReadonlySet<string>> {
    return new Set([...this.slots].filter(([, slot]) => slot.running || slot.queue.length > 0).map(([key]) => key));
  }

  stats(): QueueStats {
    let queued = 0;
    let oldest = Infinity;
    for (const slot of this.slots.values()) {
      queued += slot.queue.length;
      for (const j of slot.queue) oldest = Math.min(oldest, j.enqueuedAt);
    }
    return {
      queued,
      running: this.running,
      oldestQueuedAgeMs: queued ? Date.now() - oldest : 0,
      parked: this.parked,
    };
  }

  async stop(timeoutMs = 25_000): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.values()) slot.queue.length = 0;
    const idle = new Promise<void>((resolve) => {
      if (this.running === 0 && this.parked === 0) resolve();
      else this.idleWaiters.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
}

export function createMemoryQueue(options: MemoryQueueOptions = {}): Queue {
  return new MemoryQueue(options);
}
