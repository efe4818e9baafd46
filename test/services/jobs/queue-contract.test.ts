/**
 * The queue contract: one table of cases, run against the embedded queue (createMemoryQueue) and the durable one
 * (createPgQueue on the real PostgreSQL of this run), so the two keep the same guarantees (src/services/jobs/queue.ts
 * lists them). A case the embedded queue does not keep says "durable only" and why; it is listed as skipped there.
 * Where the two legitimately differ inside a case, the case says so (`differs`) and checks each side.
 *
 * Each case gets fresh queues (the durable ones on a queue name of their own) and keys of its own, and waits for
 * events (a job started, a job ended, the queue idle) rather than sleeping. To show that a queue did *not* start a
 * job it must hold back, a case lets a job on another key, enqueued after it, run to its end first: a queue that
 * broke the rule would have started the held-back job by then (both queues start jobs in arrival order).
 *
 * Longer than 300 lines: the table is the contract, and reads best in one place.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createLogger } from "../../../src/logger.js";
import { createMemoryQueue, QueueStoppedError, type Job, type Queue } from "../../../src/services/jobs/queue.js";
import { createPgQueue } from "../../../src/services/jobs/queue-pg.js";
import { SupersededError } from "../../../src/services/shared/errors.js";
import { createTestDatabase } from "../../support/pg-database.js";
import { logSink, type LogLine } from "../../support/log-sink.js";
import { Recorder, work } from "../../support/queue-bench.js";
import { spawnQueueWorker } from "../../support/queue-worker.js";
import { waitFor } from "../../support/wait.js";

type TargetName = "memory" | "pg";

interface Bench {
  target: TargetName;
  durable: boolean;
  rec: Recorder;
  /** What the queues logged (JSON lines). */
  logs: LogLine[];
  /** Jobs the durable queue gave up on (its `onFailed`); the embedded queue has no such hook. */
  failures: Array<{ job: Job; error: unknown }>;
  /** A key no other case uses (the durable queue's per-key advisory locks are shared by every queue name). */
  key(name: string): string;
  /**
   * A queue of the target, built (not started), with the `work` kind registered, stopped after the case. Durable:
   * each one is another replica on the case's queue (or, `separate`, on a queue of its own); embedded: each one is
   * another process's memory.
   */
  queue(opts?: { concurrency?: number; separate?: boolean }): Queue;
  /** Durable only: the case's PostgreSQL database and queue name (for a worker in another process). */
  db?: { url: string; queueName: string };
}

interface QueueCase {
  name: string;
  /** Why the embedded queue does not keep this guarantee: the case is listed as skipped for it. */
  durableOnly?: string;
  /** Where the two queues legitimately differ in this case, and why (each side is checked). */
  differs?: string;
  timeoutMs?: number;
  run(b: Bench): Promise<void>;
}

/** Run `probe` on another key to its end: the queue has had its chance to start whatever it would start. */
async function letTheQueueMove(b: Bench, q: Queue, tag: string): Promise<void> {
  await q.enqueue(work(b.key(tag), { tag }));
  await b.rec.waitEnded(tag);
}

/** The case's events that concern `tags`, in order. */
const eventsOf = (b: Bench, tags: string[]) => b.rec.events.filter((e) => tags.includes(e.split(" ")[1]!));

const CASES: QueueCase[] = [
  {
    name: "runs the jobs of one key one at a time, in arrival order",
    async run(b) {
      const q = b.queue({ concurrency: 4 });
      await q.start();
      const key = b.key("serial");
      await q.enqueue(work(key, { tag: "s1", hold: true }));
      for (const tag of ["s2", "s3", "s4"]) await q.enqueue(work(key, { tag }));
      await b.rec.waitStarted("s1");
      await letTheQueueMove(b, q, "probe");
      expect(b.rec.started()).toEqual(["s1", "probe"]);
      b.rec.release("s1");
      await q.onIdle();
      const runs = b.rec.runs.filter((r) => r.key === key);
      expect(runs.map((r) => r.tag)).toEqual(["s1", "s2", "s3", "s4"]);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.startedAt).toBeGreaterThanOrEqual(runs[i - 1]!.endedAt!);
    },
  },
  {
    name: "runs jobs of different keys in parallel, never more than `concurrency` at once",
    async run(b) {
      const q = b.queue({ concurrency: 2 });
      await q.start();
      const tags = ["p1", "p2", "p3", "p4", "p5"];
      for (const tag of tags) await q.enqueue(work(b.key(tag), { tag, hold: true }));
      // Keys start in no promised order (the durable queue's workers fetch side by side): count, don't name.
      for (let done = 0; done < tags.length; done++) {
        const expected = Math.min(2, tags.length - done);
        await waitFor(`${expected} jobs running`, () => b.rec.running().length >= expected);
        expect(b.rec.running()).toHaveLength(expected);
        const oldest = b.rec.running()[0]!;
        b.rec.release(oldest);
        await b.rec.waitEnded(oldest);
      }
      await q.onIdle();
      expect(b.rec.started().sort()).toEqual(tags);
      expect(b.rec.maxLive).toBe(2);
    },
  },
  {
    name:
      "a superseding job drops the key's queued jobs and aborts the running one with a SupersededError; it starts " +
      "only when the aborted one has finished, and a later plain job queues behind it",
    async run(b) {
      const q = b.queue({ concurrency: 4 });
      await q.start();
      const key = b.key("supersede");
      await q.enqueue(work(key, { tag: "old", hold: true, holdAfterAbort: true }));
      await b.rec.waitStarted("old");
      await q.enqueue(work(key, { tag: "queued" }));
      await q.enqueue(work(key, { tag: "newer", hold: true }, { supersedes: true }));
      await waitForAbort(b, "old");
      expect(b.rec.runsOf("old")[0]!.abortReason).toBeInstanceOf(SupersededError);
      // The aborted job is still finishing its step: the newer one waits for it.
      await letTheQueueMove(b, q, "probe1");
      expect(b.rec.running()).toEqual(["old"]);
      b.rec.release("old/after-abort");
      await b.rec.waitStarted("newer");
      // A plain job neither aborts the running one nor jumps ahead of it.
      await q.enqueue(work(key, { tag: "later" }));
      await letTheQueueMove(b, q, "probe2");
      expect(b.rec.running()).toEqual(["newer"]);
      b.rec.release("newer");
      await q.onIdle();
      expect(eventsOf(b, ["old", "queued", "newer", "later"])).toEqual([
        "start old",
        "end old (aborted)",
        "start newer",
        "end newer",
        "start later",
        "end later",
      ]);
    },
  },
  {
    name: "accepts a dedupeId once: a second enqueue, before or after the job ran, says deduplicated and runs nothing",
    async run(b) {
      const q = b.queue();
      await q.start();
      const key = b.key("dedupe");
      const id = `delivery-${b.key("id")}`;
      const first = await q.enqueue(work(key, { tag: "d", hold: true }, { dedupeId: id }));
      const again = await q.enqueue(work(key, { tag: "d" }, { dedupeId: id }));
      expect(first.deduplicated).toBe(false);
      expect(again.deduplicated).toBe(true);
      b.rec.release("d");
      await q.onIdle();
      const late = await q.enqueue(work(key, { tag: "d" }, { dedupeId: id }));
      expect(late.deduplicated).toBe(true);
      // Another id on the same key is a job of its own.
      expect((await q.enqueue(work(key, { tag: "other" }, { dedupeId: `${id}-2` }))).deduplicated).toBe(false);
      await q.onIdle();
      expect(b.rec.runsOf("d").map((r) => r.jobId)).toEqual([first.jobId]);
      expect(b.rec.runsOf("other")).toHaveLength(1);
    },
  },
  {
    name: "accepts a dedupeId once across two queue instances (replicas)",
    durableOnly:
      "the embedded queue remembers delivery ids in its process's memory: a redelivery that reaches another replica " +
      "runs again (several replicas need the durable queue; see the queue-lease gate in queue.ts)",
    async run(b) {
      const [qa, qb] = [b.queue(), b.queue()];
      await qa.start();
      await qb.start();
      const key = b.key("dedupe-replicas");
      const id = `delivery-${b.key("id")}`;
      const first = await qa.enqueue(work(key, { tag: "once" }, { dedupeId: id }));
      const second = await qb.enqueue(work(key, { tag: "once" }, { dedupeId: id }));
      expect(first.deduplicated).toBe(false);
      expect(second).toEqual({ jobId: first.jobId, deduplicated: true });
      await Promise.all([qa.onIdle(), qb.onIdle()]);
      expect(b.rec.runsOf("once")).toHaveLength(1);
    },
  },
  {
    name: "retries a transient error (a Kubernetes 503) with growing delays, then succeeds without a failure",
    durableOnly:
      "the embedded queue runs a job once: a failure is logged and the job is done (nothing of it survives a " +
      "restart either); the level-triggered sweeper converges what a failed run left",
    async run(b) {
      const q = b.queue();
      await q.start();
      await q.enqueue(work(b.key("transient"), { tag: "flaky", failTimes: 2, status: 503 }));
      await b.rec.waitStarted("flaky", 3);
      await q.onIdle();
      const runs = b.rec.runsOf("flaky");
      expect(runs).toHaveLength(3);
      expect(runs.map((r) => r.error === undefined)).toEqual([false, false, true]);
      // The bench's retryDelaySeconds is 1: pg-boss waits 1–2 s after the first failure, 2–4 s after the second.
      expect(runs[1]!.startedAt - runs[0]!.endedAt!).toBeGreaterThanOrEqual(950);
      expect(runs[2]!.startedAt - runs[1]!.endedAt!).toBeGreaterThanOrEqual(1950);
      expect(b.failures).toEqual([]);
      expect(b.logs.filter((l) => l.level >= 50)).toEqual([]);
    },
  },
  {
    name: "does not retry a permanent error (a Kubernetes 422): it is logged as an error once, and the key goes on",
    differs:
      "the durable queue also reports the job it gave up on through onFailed (it has other replicas and a retry " +
      "budget to speak for); the embedded queue only logs it",
    async run(b) {
      const q = b.queue();
      await q.start();
      const key = b.key("permanent");
      const { jobId } = await q.enqueue(work(key, { tag: "bad", failTimes: 1, status: 422 }));
      await q.enqueue(work(key, { tag: "after" }));
      await q.onIdle();
      expect(b.rec.runsOf("bad")).toHaveLength(1);
      expect(b.rec.runsOf("after")).toHaveLength(1);
      const errors = b.logs.filter((l) => l.level >= 50);
      expect(errors.map((l) => l.jobId)).toEqual([jobId]);
      expect(JSON.stringify(errors[0])).toContain("422");
      if (b.durable) {
        expect(b.failures.map((f) => f.job.id)).toEqual([jobId]);
        expect(String(b.failures[0]!.error)).toContain('applying Deployment "pv-bad/web": 422');
      }
    },
  },
  {
    name: "activeKeys() holds the keys with a job queued or running, and nothing once the queue is idle",
    async run(b) {
      const q = b.queue({ concurrency: 1 });
      await q.start();
      const [running, queued] = [b.key("running"), b.key("queued")];
      await q.enqueue(work(running, { tag: "r", hold: true }));
      await q.enqueue(work(queued, { tag: "q" }));
      await b.rec.waitStarted("r");
      expect(await q.activeKeys()).toEqual(new Set([running, queued]));
      b.rec.release("r");
      await q.onIdle();
      expect(await q.activeKeys()).toEqual(new Set());
    },
  },
  {
    name: "onIdle() resolves once every queued and running job has finished",
    async run(b) {
      const q = b.queue({ concurrency: 4 });
      await q.start();
      await q.onIdle(); // nothing to wait for
      const key = b.key("idle");
      await q.enqueue(work(key, { tag: "i1", hold: true }));
      await q.enqueue(work(key, { tag: "i2" }));
      await q.enqueue(work(b.key("idle-other"), { tag: "i3", hold: true }));
      const idle = q.onIdle().then(() => b.rec.events.push("idle"));
      await b.rec.waitStarted("i1");
      await b.rec.waitStarted("i3");
      b.rec.release("i3");
      await b.rec.waitEnded("i3");
      b.rec.release("i1");
      await idle;
      expect(b.rec.events.slice(-1)).toEqual(["idle"]);
      expect(b.rec.events.filter((e) => e.startsWith("end "))).toHaveLength(3);
    },
  },
  {
    name: "stop() refuses new jobs at once and waits for the running job, which it does not abort",
    differs:
      "jobs still queued: the embedded queue drops them (they live in this process only; the sweeper converges what " +
      "they were for); the durable queue keeps them in PostgreSQL, and the next replica to start runs them — or the " +
      "stopping one does, before it has stopped fetching (pg-boss's workers fetch until its own stop reaches them)",
    async run(b) {
      const q = b.queue();
      await q.start();
      const key = b.key("stop");
      await q.enqueue(work(key, { tag: "running", hold: true }));
      await q.enqueue(work(key, { tag: "queued" }));
      await b.rec.waitStarted("running");
      const stopped = q.stop(120_000).then(() => b.rec.events.push("stopped"));
      await expect(q.enqueue(work(b.key("late"), { tag: "late" }))).rejects.toBeInstanceOf(QueueStoppedError);
      expect(b.rec.events).toEqual(["start running"]);
      b.rec.release("running");
      await stopped;
      // Whatever ran on the stopping queue had ended before stop() resolved.
      const beforeStop = b.rec.events.slice(0, b.rec.events.indexOf("stopped"));
      expect(beforeStop.slice(0, 2)).toEqual(["start running", "end running"]);
      for (const e of beforeStop.filter((e) => e.startsWith("start ")))
        expect(beforeStop).toContain(e.replace("start", "end"));
      if (b.durable) {
        if (b.rec.runsOf("queued").length === 0) {
          const next = b.queue();
          await next.start();
          await b.rec.waitEnded("queued");
          await next.onIdle();
        }
        expect(b.rec.started()).toEqual(["running", "queued"]);
      } else {
        expect(b.rec.events).toEqual(["start running", "end running", "stopped"]);
        expect(await q.activeKeys()).toEqual(new Set());
      }
    },
  },
  {
    name: "jobs enqueued before start() wait, and run once it is called",
    async run(b) {
      const q = b.queue();
      const [k1, k2] = [b.key("early-1"), b.key("early-2")];
      await q.enqueue(work(k1, { tag: "e1" }));
      await q.enqueue(work(k2, { tag: "e2" }));
      expect(await q.activeKeys()).toEqual(new Set([k1, k2]));
      const idle = q.onIdle().then(() => b.rec.events.push("idle")); // waits for them too
      // A started queue of the same kind runs a job meanwhile: this one, built but not started, runs none.
      const other = b.queue({ separate: true });
      await other.start();
      await letTheQueueMove(b, other, "elsewhere");
      expect(b.rec.started()).toEqual(["elsewhere"]);
      expect(b.rec.events).toEqual(["start elsewhere", "end elsewhere"]);
      await q.start();
      await idle;
      expect(b.rec.started().slice(1).sort()).toEqual(["e1", "e2"]);
      expect(b.rec.events.slice(-1)).toEqual(["idle"]);
    },
  },
  {
    name: "a job whose worker process is killed (SIGKILL) mid-job runs again on another worker once its lease lapses",
    durableOnly:
      "the embedded queue keeps its jobs in the process's memory: a killed process takes them with it (the " +
      "level-triggered sweeper converges the previews they were for)",
    timeoutMs: 300_000, // the lease (10 s) must lapse first: about 15 s on an idle machine
    async run(b) {
      const dir = mkdtempSync(join(tmpdir(), "queue-contract-"));
      const worker = spawnQueueWorker(dir, { QUEUE_URL: b.db!.url, QUEUE_NAME: b.db!.queueName, CRASH: "1" });
      try {
        const q = b.queue(); // a producer now; the other worker once the first is dead
        await worker.saw("ready");
        const { jobId } = await q.enqueue(work(b.key("crash"), { tag: "crash" }));
        await worker.saw("holding");
        await worker.kill("SIGKILL");
        await q.start();
        await b.rec.waitEnded("crash", 240_000);
        await q.onIdle();
        const log = new pg.Client({ connectionString: b.db!.url });
        await log.connect();
        const rows = (await log.query("select pid, phase from crash_log where job = $1 order by at", [jobId])).rows;
        await log.end();
        expect(rows).toEqual([
          { pid: worker.child.pid, phase: "start" },
          { pid: worker.child.pid, phase: "holding" },
        ]);
        expect(b.rec.runsOf("crash").map((r) => [r.jobId, r.error])).toEqual([[jobId, undefined]]);
      } finally {
        await worker.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

/** Wait until the held job `tag` has seen its signal abort. */
const waitForAbort = (b: Bench, tag: string): Promise<void> =>
  waitFor(`job "${tag}" to be aborted`, () => b.rec.runsOf(tag)[0]?.abortReason !== undefined);

let caseNo = 0;

/** The case's bench: queues of the target, recording into one Recorder, stopped (jobs released first) afterwards. */
function bench(target: TargetName, dbUrl: string | undefined): { bench: Bench; cleanup: () => Promise<void> } {
  const n = ++caseNo;
  const salt = Math.random().toString(36).slice(2, 8);
  const rec = new Recorder();
  const sink = logSink();
  const logger = createLogger({ level: "info", destination: sink.stream });
  const failures: Bench["failures"] = [];
  const queues: Queue[] = [];
  const stopped = new Set<Queue>();
  const queueName = `contract_${n}_${salt}`;
  const b: Bench = {
    target,
    durable: target === "pg",
    rec,
    logs: sink.lines,
    failures,
    key: (name) => `acme/contract-${salt}#${n}-${name}`,
    queue(opts = {}) {
      const q =
        target === "memory"
          ? createMemoryQueue({ concurrency: opts.concurrency ?? 4, logger })
          : createPgQueue({
              connectionString: dbUrl!,
              queueName: opts.separate ? `${queueName}_${queues.length}` : queueName,
              concurrency: opts.concurrency ?? 4,
              leaseSeconds: 10,
              superviseIntervalSeconds: 1,
              retryLimit: 3,
              retryDelaySeconds: 1,
              reapIntervalMs: 500,
              logger,
              onFailed: (job, error) => void failures.push({ job, error }),
            });
      q.register("work", rec.handler);
      queues.push(q);
      // The cleanup stops what the case did not (a second stop() of the durable queue throws: its pool ends once).
      return {
        register: (kind, handler) => q.register(kind, handler),
        start: () => q.start(),
        enqueue: (options) => q.enqueue(options),
        onIdle: () => q.onIdle(),
        activeKeys: () => q.activeKeys(),
        stats: () => q.stats(),
        stop: (timeoutMs) => (stopped.add(q), q.stop(timeoutMs)),
      };
    },
    ...(target === "pg" ? { db: { url: dbUrl!, queueName } } : {}),
  };
  return {
    bench: b,
    async cleanup() {
      rec.releaseAll();
      await Promise.all(queues.filter((q) => !stopped.has(q)).map((q) => q.stop(10_000)));
    },
  };
}

function runCases(target: TargetName, dbUrl: () => string | undefined): void {
  for (const c of CASES) {
    if (c.durableOnly && target === "memory") {
      it.skip(`${c.name} [durable only: ${c.durableOnly}]`, () => undefined);
      continue;
    }
    it(
      c.differs ? `${c.name} [differs: ${c.differs}]` : c.name,
      async () => {
        const { bench: b, cleanup } = bench(target, dbUrl());
        try {
          await c.run(b);
        } finally {
          await cleanup();
        }
      },
      c.timeoutMs ?? 120_000,
    );
  }
}

describe("queue contract [embedded: createMemoryQueue]", () => {
  runCases("memory", () => undefined);
});

describe("queue contract [durable: createPgQueue on PostgreSQL]", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase("queue_contract");
  }, 60_000);
  afterAll(async () => db?.drop());
  runCases("pg", () => db.url);
});
