/**
 * Crash recovery: a worker process is killed (SIGKILL) in the middle of a job that provisions a database and a
 * namespace; a second worker process picks the job up once its lease lapses and completes it exactly once more.
 * Afterwards there is one database and one namespace: the re-run converged instead of duplicating.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createPgQueue, type PgQueue } from "../../../src/services/jobs/queue-pg.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";
import { createTestDatabase } from "../../support/pg-database.js";
import { spawnQueueWorker, type QueueWorker } from "../../support/queue-worker.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let fake: FakeKube;
let dir: string;
let producer: PgQueue;
let client: pg.Client;
const children: QueueWorker[] = [];
const run = Math.random().toString(36).slice(2, 7);

function worker(crash: boolean): QueueWorker {
  const w = spawnQueueWorker(dir, {
    QUEUE_URL: db.url,
    ADMIN_URL: process.env.TEST_PG_URL,
    KUBE_URL: fake.url,
    CRASH: crash ? "1" : "0",
  });
  children.push(w);
  return w;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "queue-crash-"));
  db = await createTestDatabase("queue_crash");
  fake = await startFakeKube({ namespaceFinalizeMs: 20 });
  producer = createPgQueue({ connectionString: db.url, work: false });
  await producer.start();
  client = new pg.Client({ connectionString: process.env.TEST_PG_URL });
  await client.connect();
}, 120_000);

afterAll(async () => {
  for (const c of children) await c.kill("SIGKILL");
  await producer?.stop(1_000);
  await client
    ?.query(`drop database if exists ${pg.escapeIdentifier(`crash_${run}`)} with (force)`)
    .catch(() => undefined);
  await client?.query(`drop role if exists ${pg.escapeIdentifier(`crash_${run}_app`)}`).catch(() => undefined);
  await client?.end();
  await fake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a worker killed mid-job", () => {
  it("is replaced: another worker runs the job once more after the lease lapses, and the result is not duplicated", async () => {
    const first = worker(true);
    await first.saw("ready");
    const { jobId } = await producer.enqueue({
      kind: "provision",
      key: `acme/web#${run}`,
      payload: { owner: "acme", repo: "web", number: 1, database: `crash_${run}`, namespace: `crash-${run}` },
    });
    await first.saw("holding");
    await first.kill("SIGKILL");

    const second = worker(false);
    await second.saw("ready");
    const log = new pg.Client({ connectionString: db.url });
    await log.connect();
    // Wait for the queue to hold nothing that could still run (the job completed, no retry left): then the log is
    // final, and a duplicate run, had there been one, is in it.
    await producer.onIdle();
    const rows = (
      await log.query<{ pid: number; job: string; phase: string }>("select pid, job, phase from crash_log order by at")
    ).rows;
    await log.end();

    expect(rows).toEqual([
      { pid: first.child.pid, job: jobId, phase: "start" },
      { pid: first.child.pid, job: jobId, phase: "holding" },
      { pid: second.child.pid, job: jobId, phase: "start" },
      { pid: second.child.pid, job: jobId, phase: "done" },
    ]);
    const dbs = await client.query("select datname from pg_database where datname like $1", [`crash_${run}%`]);
    expect(dbs.rows).toEqual([{ datname: `crash_${run}` }]);
    expect(
      fake
        .list("v1", "Namespace")
        .filter((n) => n.metadata.name?.startsWith(`crash-${run}`))
        .map((n) => n.metadata.name),
    ).toEqual([`crash-${run}`]);
    await second.kill("SIGTERM");
  }, 300_000); // about 15 s when idle: the lease (10 s) must lapse first
});
