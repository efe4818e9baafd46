/**
 * The durable queue on a real PostgreSQL server, with two queue instances on one database standing in for two
 * replicas: per-key order and exclusivity under a burst, dedupe across instances, supersede of a job running on
 * the other instance, retry of a transient failure, and a permanent failure reported once without retry.
 */
import { createServer, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { createPgQueue, isTransientError, type PgQueue } from "../../../src/services/jobs/queue-pg.js";
import type { Job } from "../../../src/services/jobs/queue.js";
import { SupersededError } from "../../../src/services/shared/errors.js";
import { createTestDatabase } from "../../support/pg-database.js";
import { waitFor } from "../../support/wait.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: PgQueue;
let b: PgQueue;
const failed: Array<{ instance: string; job: Job; error: unknown }> = [];

interface Run {
  instance: string;
  key: string;
  seq: number;
  id: string;
  start: number;
  end: number;
}
const burst: Run[] = [];
const attempts = new Map<string, number>();
const events: string[] = [];
let longAborted: unknown;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEADLINE = 180_000; // each test takes a few seconds on an idle machine

function register(queue: PgQueue, instance: string): void {
  queue.register<{ seq: number }>("burst", async (job) => {
    const start = performance.now();
    await sleep(2 + (job.payload.seq % 7));
    burst.push({ instance, key: job.key, seq: job.payload.seq, id: job.id, start, end: performance.now() });
  });
  queue.register<{ tag: string }>("count", async (job) => {
    attempts.set(job.payload.tag, (attempts.get(job.payload.tag) ?? 0) + 1);
    events.push(`run ${job.payload.tag}`);
  });
  queue.register<{ tag: string; failTimes: number; status: number }>("flaky", async (job) => {
    const n = (attempts.get(job.payload.tag) ?? 0) + 1;
    attempts.set(job.payload.tag, n);
    if (n <= job.payload.failTimes)
      throw new Error(`calling the API for ${job.payload.tag}`, {
        cause: Object.assign(new Error(`HTTP ${job.payload.status}`), { status: job.payload.status }),
      });
  });
  queue.register<{ tag: string }>("long", async (job, signal) => {
    events.push(`start ${job.payload.tag} on ${instance}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 600_000); // only the abort ends it, however slow the machine
      signal.addEventListener("abort", () => {
        longAborted = signal.reason;
        clearTimeout(t);
        resolve();
      });
    });
    await sleep(300); // finishing the current step after the abort: the next job must still wait for this
    events.push(`end ${job.payload.tag} on ${instance}${signal.aborted ? " (aborted)" : ""}`);
  });
}

function make(instance: string): PgQueue {
  const q = createPgQueue({
    connectionString: db.url,
    concurrency: 4,
    leaseSeconds: 10,
    superviseIntervalSeconds: 1,
    retryLimit: 2,
    retryDelaySeconds: 1,
    reapIntervalMs: 500,
    onFailed: (job, error) => void failed.push({ instance, job, error }),
  });
  register(q, instance);
  return q;
}

beforeAll(async () => {
  db = await createTestDatabase("queue_pg");
  a = make("A");
  await a.start();
  b = make("B");
  await b.start();
}, DEADLINE);

afterAll(async () => {
  await Promise.all([a?.stop(2_000), b?.stop(2_000)]);
  await db?.drop();
});

const idle = () => Promise.all([a.onIdle(), b.onIdle()]);

describe("PostgreSQL queue across two replicas", () => {
  it(
    "runs a burst of 200 jobs over 20 keys once each, in order per key, never two of a key at once",
    async () => {
      for (let seq = 0; seq < 200; seq++) {
        await (seq % 2 ? a : b).enqueue({ kind: "burst", key: `acme/web#${seq % 20}`, payload: { seq } });
      }
      await idle();
      expect(burst).toHaveLength(200);
      expect(new Set(burst.map((r) => r.seq)).size).toBe(200);
      expect(new Set(burst.map((r) => r.id)).size).toBe(200);
      for (let k = 0; k < 20; k++) {
        const runs = burst.filter((r) => r.key === `acme/web#${k}`).sort((x, y) => x.start - y.start);
        expect(runs.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => k + 20 * i));
        for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
      }
      // Both replicas took part.
      expect(new Set(burst.map((r) => r.instance))).toEqual(new Set(["A", "B"]));
    },
    DEADLINE,
  );

  it(
    "accepts a delivery id once across replicas",
    async () => {
      const first = await a.enqueue({
        kind: "count",
        key: "acme/web#100",
        payload: { tag: "dedupe" },
        dedupeId: "delivery-1",
      });
      const second = await b.enqueue({
        kind: "count",
        key: "acme/web#100",
        payload: { tag: "dedupe" },
        dedupeId: "delivery-1",
      });
      expect(first.deduplicated).toBe(false);
      expect(second).toEqual({ jobId: first.jobId, deduplicated: true });
      await idle();
      expect(attempts.get("dedupe")).toBe(1);
    },
    DEADLINE,
  );

  it(
    "supersedes a job running on the other replica: it is aborted, and the newer job waits for it to finish",
    async () => {
      events.length = 0;
      await a.enqueue({ kind: "long", key: "acme/web#200", payload: { tag: "old" } });
      await waitFor("the old job to start on a replica", () => events.some((e) => e.startsWith("start old")));
      const ranOn = events.find((e) => e.startsWith("start old"))!.slice(-1);
      const other = ranOn === "A" ? b : a;
      await other.enqueue({ kind: "long", key: "acme/web#200", payload: { tag: "queued" } });
      await other.enqueue({ kind: "count", key: "acme/web#200", payload: { tag: "newer" }, supersedes: true });
      await idle();
      expect(longAborted).toBeInstanceOf(SupersededError);
      // The queued one was dropped; the newer one ran only after the aborted one had finished its step.
      expect(events).toEqual([`start old on ${ranOn}`, `end old on ${ranOn} (aborted)`, "run newer"]);
      expect(attempts.get("newer")).toBe(1);
    },
    DEADLINE,
  );

  it(
    "retries a transient failure with backoff, then succeeds without reporting a failure",
    async () => {
      await a.enqueue({ kind: "flaky", key: "acme/web#300", payload: { tag: "transient", failTimes: 1, status: 503 } });
      await idle();
      expect(attempts.get("transient")).toBe(2);
      expect(failed.filter((f) => (f.job.payload as { tag: string }).tag === "transient")).toEqual([]);
    },
    DEADLINE,
  );

  it(
    "reports a permanent failure through onFailed once, without retrying, and the key stays usable",
    async () => {
      await b.enqueue({ kind: "flaky", key: "acme/web#400", payload: { tag: "permanent", failTimes: 1, status: 422 } });
      await b.enqueue({ kind: "count", key: "acme/web#400", payload: { tag: "after-permanent" } });
      await idle();
      expect(attempts.get("permanent")).toBe(1);
      const reports = failed.filter((f) => (f.job.payload as { tag: string }).tag === "permanent");
      expect(reports).toHaveLength(1);
      expect(String(reports[0]!.error)).toContain("calling the API for permanent");
      expect(attempts.get("after-permanent")).toBe(1);
    },
    DEADLINE,
  );

  it(
    "reports a transient failure that outlasts its retries",
    async () => {
      await a.enqueue({
        kind: "flaky",
        key: "acme/web#500",
        payload: { tag: "exhausted", failTimes: 99, status: 429 },
      });
      await idle();
      expect(attempts.get("exhausted")).toBe(3); // the first attempt and retryLimit (2) retries
      expect(failed.filter((f) => (f.job.payload as { tag: string }).tag === "exhausted")).toHaveLength(1);
    },
    DEADLINE,
  );

  it(
    "refuses jobs once stopping",
    async () => {
      const c = make("C");
      await c.start();
      await c.stop(1_000);
      await expect(c.enqueue({ kind: "count", key: "x#1", payload: { tag: "late" } })).rejects.toThrow(/stopping/);
    },
    DEADLINE,
  );
});

describe("isTransientError", () => {
  const withCause = (cause: unknown) => new Error("deploying acme/web#1: applying Deployment", { cause });
  it.each(
    [
      [
        "Kubernetes 503 (ApiException code)",
        withCause(Object.assign(new Error("HTTP-Code: 503"), { code: 503, body: "{}" })),
        true,
      ],
      ["Kubernetes 429", withCause({ code: 429, body: "" }), true],
      ["GitHub 502 (Octokit status)", withCause(Object.assign(new Error("Bad Gateway"), { status: 502 })), true],
      ["Slack rate limit", Object.assign(new Error("rate limited"), { code: "slack_webapi_rate_limited_error" }), true],
      [
        "connection reset, two causes deep",
        withCause(withCause(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))),
        true,
      ],
      ["a timeout", Object.assign(new Error("timed out"), { name: "TimeoutError" }), true],
      ["Kubernetes 422 invalid", withCause({ code: 422, body: "" }), false],
      ["GitHub 404", Object.assign(new Error("Not Found"), { status: 404 }), false],
      [
        "GitHub secondary rate limit (403 with retry-after)",
        withCause(
          Object.assign(new Error("Forbidden"), { status: 403, response: { headers: { "retry-after": "1" } } }),
        ),
        true,
      ],
      [
        "GitHub secondary rate limit (403 that says so)",
        Object.assign(new Error("You have exceeded a secondary rate limit"), {
          status: 403,
          response: { headers: {} },
        }),
        true,
      ],
      ["GitHub 403 permission", Object.assign(new Error("Resource not accessible"), { status: 403 }), false],
      [
        "PostgreSQL starting up after a restart (57P03)",
        withCause(Object.assign(new Error("the database system is starting up"), { code: "57P03" })),
        true,
      ],
      [
        "PostgreSQL connection failure (08006)",
        Object.assign(new Error("connection failure"), { code: "08006" }),
        true,
      ],
      ["pg-pool's connect timeout", withCause(new Error("timeout exceeded when trying to connect")), true],
      [
        "a message that only mentions a lost connection",
        new Error("deploy said: Connection terminated unexpectedly"),
        false,
      ],
      ["a plain bug", new TypeError("x is undefined"), false],
    ].map(([label, err, expected]) => ({ label, err, expected })),
  )("$label → $expected", ({ err, expected }) => {
    expect(isTransientError(err)).toBe(expected);
  });

  it(
    "PostgreSQL going away mid-query (a restart) is transient: node-postgres' own error through a real connection",
    async () => {
      // A TCP hop in front of the real server, dropped while a query runs: what the client sees when PostgreSQL
      // restarts under it ("Connection terminated unexpectedly", no code).
      const target = new URL(db.url);
      const sockets: Socket[] = [];
      const hop = createServer((client) => {
        const server = new Socket();
        sockets.push(client, server);
        server.connect(Number(target.port || 5432), target.hostname, () => {
          client.pipe(server).pipe(client);
        });
        client.on("error", () => undefined);
        server.on("error", () => undefined);
      });
      await new Promise<void>((r) => hop.listen(0, "127.0.0.1", r));
      const url = new URL(db.url);
      url.hostname = "127.0.0.1";
      url.port = String((hop.address() as { port: number }).port);
      const client = new pg.Client({ connectionString: url.toString() });
      client.on("error", () => undefined);
      const watcher = new pg.Client({ connectionString: db.url });
      try {
        await Promise.all([client.connect(), watcher.connect()]);
        const query = client.query("select pg_sleep(30)");
        const lost = query.then(
          () => new Error("the query finished"),
          (err: unknown) => err,
        );
        await waitFor("the query to run on the server", async () => {
          const { rowCount } = await watcher.query(
            "select 1 from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'",
          );
          return (rowCount ?? 0) > 0;
        });
        for (const s of sockets) s.destroy();
        const err = await lost;
        expect(String(err)).toMatch(/Connection terminated unexpectedly/);
        expect(isTransientError(new Error("dropping database app_42", { cause: err }))).toBe(true);
      } finally {
        await Promise.all([client.end().catch(() => undefined), watcher.end()]);
        await new Promise((r) => hop.close(r));
      }
    },
    DEADLINE,
  );
});
