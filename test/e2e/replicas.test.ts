/**
 * Two replicas under faults, then a sweep: a seeded, randomized run of 40 pull requests (open, push, close) with
 * webhook jobs going to two replicas (each its own runner and PostgreSQL queue on one database), some deliveries
 * lost or delivered twice, the fake Kubernetes API server failing ~10 % of requests and GitHub failing some. Once
 * the storm is over, sweeps converge: every open PR has a ready preview at its head commit with its database,
 * and nothing is left of closed ones (no orphan namespace, no orphan database).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { c as tarCreate } from "tar";
import { createLogger } from "../../src/logger.js";
import { PREVIEW_JOB } from "../../src/services/jobs/dispatcher.js";
import { MANAGED_BY } from "../../src/services/shared/labels.js";
import { previewKey } from "../../src/services/shared/preview.js";
import { createPgQueue, type PgQueue } from "../../src/services/jobs/queue-pg.js";
import type { PreviewJob } from "../../src/services/shared/dispatch.js";
import { createSweeper, MemorySweepMemory } from "../../src/services/jobs/sweeper.js";
import { buildJobHarness } from "../support/job-harness.js";
import { startFakeKube, type FakeKube } from "../support/fake-kube/index.js";
import { fakeGitHub, GITHUB_API, type FakePull } from "../support/github-fake.js";
import { createTestDatabase } from "../support/pg-database.js";

const OWNER = "Codertocat";
const REPO = "Hello-World";
const PRS = 40;
const SEED = Number(process.env.REPLICAS_SEED ?? 20261120);
const run = Math.random().toString(36).slice(2, 6);
const CONFIG = `manifests:\n  path: deploy\nnames:\n  namespace: "r${run}-{number}"\nhealth:\n  timeout: 5s\ndatabase:\n  enabled: true\n  secret:\n    name: app-db\n`;
const WEB = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: ghcr.io/codertocat/hello:latest }]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
`;

/** mulberry32: small, seeded, good enough to pick events. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let fake: FakeKube;
let workDir: string;
const queues: PgQueue[] = [];
const harnesses: Array<ReturnType<typeof buildJobHarness>> = [];
const logger = createLogger({ level: process.env.E2E_LOG ?? "silent" });

async function tarball(sha: string): Promise<Buffer> {
  const root = mkdtempSync(join(workDir, "repo-"));
  const top = `${OWNER}-${REPO}-${sha.slice(0, 7)}`;
  mkdirSync(join(root, top, "deploy"), { recursive: true });
  writeFileSync(join(root, top, "deploy", "web.yaml"), WEB);
  const chunks: Buffer[] = [];
  for await (const chunk of tarCreate({ gzip: true, cwd: root, portable: true }, [top]) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "replicas-"));
  db = await createTestDatabase("replicas");
  fake = await startFakeKube({ namespaceFinalizeMs: 20, controllerTickMs: 10 });
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  for (let i = 0; i < 2; i++) {
    const queue = createPgQueue({ connectionString: db.url, concurrency: 4, leaseSeconds: 10, superviseIntervalSeconds: 1, retryLimit: 3, retryDelaySeconds: 1, retryDelayMaxSeconds: 2, logger });
    harnesses.push(buildJobHarness({ kubeConfig: fake.kubeConfig(), adminUrl: process.env.TEST_PG_URL!, queue, logger, workDir, installationId: 2 }));
    await queue.start();
    queues.push(queue);
  }
}, 60_000);

afterAll(async () => {
  fake?.setFaults(undefined);
  // Remove what the run created in the shared PostgreSQL server.
  const dbs = harnesses[0] ? await harnesses[0].databases.list().catch(() => []) : [];
  for (const d of dbs.filter((x) => x.database.startsWith(`r${run}_`))) await harnesses[0]!.databases.drop({ key: d.key, database: d.database, role: d.role ?? `${d.database}_app` }).catch(() => undefined);
  await Promise.all(queues.map((q) => q.stop(2_000)));
  await Promise.all(harnesses.map((h) => h.databases.close()));
  await fake?.stop();
  await db?.drop();
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
  rmSync(workDir, { recursive: true, force: true });
});

describe("two replicas, a storm of events under faults, then a sweep", () => {
  it("converges to exactly the open pull requests' previews, with nothing orphaned", async () => {
    const random = rng(SEED); // the event sequence: same seed, same storm
    const faultRandom = rng(SEED + 1); // faults: drawn per request, so their order depends on timing
    // GitHub fails some requests: these interceptors come first, so they take the first matching requests.
    nock(GITHUB_API).get(/^\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/).times(6).reply(502, { message: "Bad Gateway" });
    nock(GITHUB_API).post(/\/check-runs$/).times(4).reply(500, { message: "Server Error" });
    const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: 2, config: CONFIG });
    let version = 0;
    const newSha = async () => {
      const sha = (++version).toString(16).padStart(40, "0");
      gh.state.tarballs.set(sha, await tarball(sha));
      return sha;
    };
    const pull = async (number: number): Promise<FakePull> => ({ number, title: `PR ${number}`, branch: `topic-${number}`, sha: await newSha(), state: "open", fork: false, draft: false, labels: [], author: "Codertocat", files: [] });

    let lost = 0;
    let duplicated = 0;
    const deliver = async (number: number, action: "deploy" | "destroy") => {
      if (random() < 0.1) return void lost++; // GitHub gave up on this delivery: only the sweeper will notice
      const job: PreviewJob = { installationId: 2, owner: OWNER, repo: REPO, number, action, source: "webhook", trigger: `${action} by @Codertocat` };
      const delivery = `d-${number}-${version}-${action}`;
      const replica = queues[Math.floor(random() * 2)]!;
      await replica.enqueue({ kind: PREVIEW_JOB, key: previewKey(job), payload: job, dedupeId: delivery, supersedes: true });
      if (random() < 0.1) {
        duplicated++;
        const again = await queues[Math.floor(random() * 2)]!.enqueue({ kind: PREVIEW_JOB, key: previewKey(job), payload: job, dedupeId: delivery, supersedes: true });
        expect(again.deduplicated).toBe(true);
      }
    };

    fake.setFaults(() => (faultRandom() < 0.1 ? [500, 503, 429][Math.floor(faultRandom() * 3)] : undefined));
    const started = Date.now();
    for (let n = 1; n <= PRS; n++) {
      gh.state.pulls.set(n, await pull(n));
      await deliver(n, "deploy");
    }
    for (let step = 0; step < 60; step++) {
      const n = 1 + Math.floor(random() * PRS);
      const p = gh.state.pulls.get(n)!;
      if (p.state === "closed") continue;
      if (random() < 0.25) {
        p.state = "closed";
        await deliver(n, "destroy");
      } else {
        p.sha = await newSha();
        await deliver(n, "deploy");
      }
      if (step % 10 === 0) await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(queues.map((q) => q.onIdle()));
    fake.setFaults(undefined); // the storm is over

    const open = () => [...gh.state.pulls.values()].filter((p) => p.state === "open");
    const sweeper = createSweeper({
      cluster: harnesses[0]!.cluster,
      databases: harnesses[0]!.databases,
      listOpenPulls: async () => open().map((p) => ({ installationId: 2, owner: OWNER, repo: REPO, number: p.number, sha: p.sha })),
      dispatch: (req) => harnesses[Math.floor(random() * 2)]!.dispatcher.dispatch(req),
      logger,
      memory: new MemorySweepMemory(),
    });
    let sweeps = 0;
    for (; sweeps < 4; sweeps++) {
      const result = await sweeper.sweep();
      await Promise.all(queues.map((q) => q.onIdle()));
      if (result.plan.deploy.length === 0 && result.plan.destroy.length === 0) break;
    }

    const ours = fake.list("v1", "Namespace").filter((ns) => ns.metadata.labels?.[Object.keys(MANAGED_BY)[0]!] && ns.metadata.name?.startsWith(`r${run}-`));
    const actual = ours.map((ns) => `${ns.metadata.name}@${ns.metadata.annotations?.["preview-bot.dev/head-sha"]}:${ns.metadata.annotations?.["preview-bot.dev/state"]}`).sort();
    const desired = open().map((p) => `r${run}-${p.number}@${p.sha}:ready`).sort();
    const databases = (await harnesses[0]!.databases.list()).filter((d) => d.database.startsWith(`r${run}_`)).map((d) => d.key).sort();
    const summary = { lost, duplicated, sweeps, open: desired.length, seconds: Math.round((Date.now() - started) / 1000) };
    expect({ summary, actual }).toEqual({ summary, actual: desired });
    expect(databases).toEqual(open().map((p) => `${OWNER}/${REPO}#${p.number}`).sort());
    for (const p of open()) expect(fake.get("apps/v1", "Deployment", `r${run}-${p.number}`, "web")).toBeDefined();
    expect(lost).toBeGreaterThan(0); // the run did exercise missed deliveries …
    expect(sweeps).toBeGreaterThan(0); // … and the sweeper had work to do
  }, 90_000);
});
