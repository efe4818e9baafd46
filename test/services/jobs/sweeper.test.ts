/**
 * The sweeper: the pure plan, table-tested; then a sweep against the fake Kubernetes API server and the real
 * PostgreSQL server, with destroys going through the real dispatcher, queue and runner (GitHub on nock).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createLogger } from "../../../src/logger.js";
import type { PreviewRequest } from "../../../src/services/shared/dispatch.js";
import { EXPIRES_ANNOTATION, MANAGED_BY, REPOSITORY_ANNOTATION, SHA_ANNOTATION } from "../../../src/services/shared/labels.js";
import { ownershipLabels } from "../../../src/services/preview/naming.js";
import { createMemoryQueue } from "../../../src/services/jobs/queue.js";
import { createSweeper, MemorySweepMemory, PgSweepMemory, planSweep, type NamespaceFacts, type OpenPull, type SweepInput } from "../../../src/services/jobs/sweeper.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";
import { fakeGitHub, type FakePull } from "../../support/github-fake.js";
import { useNock } from "../../support/github.js";
import { buildJobHarness } from "../../support/job-harness.js";
import { createTestDatabase } from "../../support/pg-database.js";

const NOW = Date.parse("2026-11-20T12:00:00Z");
const H = 3_600_000;
const sha = (c: string) => c.repeat(40);

function ns(name: string, key: string, opts: { sha?: string; expiresAt?: number; state?: string; phase?: string; labels?: Record<string, string>; repository?: string | null } = {}): NamespaceFacts {
  const [repository, number] = key.split("#") as [string, string];
  const [owner, repo] = repository.split("/") as [string, string];
  return {
    name,
    labels: opts.labels ?? ownershipLabels(owner, repo, Number(number)),
    annotations: {
      ...(opts.repository === null ? {} : { [REPOSITORY_ANNOTATION]: opts.repository ?? repository }),
      [SHA_ANNOTATION]: opts.sha ?? sha("a"),
      ...(opts.expiresAt !== undefined ? { [EXPIRES_ANNOTATION]: new Date(opts.expiresAt).toISOString() } : {}),
      ...(opts.state ? { "preview-bot.dev/state": opts.state } : {}),
    },
    phase: opts.phase ?? "Active",
  };
}
const pull = (number: number, s = sha("a"), extra: Partial<OpenPull> = {}): OpenPull => ({ installationId: 7, owner: "acme", repo: "web", number, sha: s, ...extra });
const base = (over: Partial<SweepInput>): SweepInput => ({ open: [], namespaces: [], databases: [], now: NOW, ...over });
const summary = (input: SweepInput) => {
  const p = planSweep(input);
  return {
    deploy: p.deploy.map((d) => `${d.key}:${d.reason}`),
    destroy: p.destroy.map((d) => `${d.key}:${d.reason}:${[...d.namespaces, ...d.databases].join("+")}`),
    headsUp: p.headsUp.map((h) => h.key),
    skipped: p.skipped.map((s) => s.what),
  };
};
const none = { deploy: [], destroy: [], headsUp: [], skipped: [] };

describe("planSweep", () => {
  it.each([
    ["an open PR without a preview is deployed", base({ open: [pull(1)] }), { ...none, deploy: ["acme/web#1:missing"] }],
    ["an open PR whose preview is at an older commit is redeployed", base({ open: [pull(1, sha("b"))], namespaces: [ns("web-pr-1", "acme/web#1")] }), { ...none, deploy: ["acme/web#1:stale"] }],
    ["an up-to-date preview is left alone", base({ open: [pull(1)], namespaces: [ns("web-pr-1", "acme/web#1", { state: "ready" })] }), none],
    ["a failed or interrupted deploy is retried", base({ open: [pull(1)], namespaces: [ns("web-pr-1", "acme/web#1", { state: "failed" })] }), { ...none, deploy: ["acme/web#1:failed"] }],
    ["the preview of a closed PR is removed, namespace and database", base({ namespaces: [ns("web-pr-2", "acme/web#2")], databases: [{ database: "web_pr_2", key: "acme/web#2" }] }), { ...none, destroy: ["acme/web#2:closed:web-pr-2+web_pr_2"] }],
    ["an orphan database alone is removed", base({ databases: [{ database: "web_pr_3", key: "acme/web#3" }] }), { ...none, destroy: ["acme/web#3:closed:web_pr_3"] }],
    ["a database of an open PR without namespace is kept, and the preview deployed", base({ open: [pull(4)], databases: [{ database: "web_pr_4", key: "acme/web#4" }] }), { ...none, deploy: ["acme/web#4:missing"] }],
    ["an expired preview of an open PR is removed, not redeployed", base({ open: [pull(5)], namespaces: [ns("web-pr-5", "acme/web#5", { expiresAt: NOW - 1 })] }), { ...none, destroy: ["acme/web#5:expired:web-pr-5"] }],
    ["a preview expiring within 10 % of its TTL gets a heads-up", base({ open: [pull(6, sha("a"), { ttlMs: 10 * H })], namespaces: [ns("web-pr-6", "acme/web#6", { expiresAt: NOW + 0.5 * H })] }), { ...none, headsUp: ["acme/web#6"] }],
    ["a preview expiring later gets none", base({ open: [pull(6, sha("a"), { ttlMs: 10 * H })], namespaces: [ns("web-pr-6", "acme/web#6", { expiresAt: NOW + 2 * H })] }), none],
    ["a namespace without our label is invisible", base({ namespaces: [ns("someone-else", "acme/web#9", { labels: { team: "data" } })] }), none],
    ["a protected namespace is skipped even with our label", base({ namespaces: [ns("kube-system", "acme/web#9")], protectedNamespaces: ["prod"] }), { ...none, skipped: ["namespace kube-system"] }],
    ["our label without a repository annotation is left for a person", base({ namespaces: [ns("odd", "acme/web#9", { repository: null })] }), { ...none, skipped: ["namespace odd"] }],
    ["a preview expired at this commit is not brought back", base({ open: [pull(7)], expired: new Set([`acme/web#7@${sha("a")}`]) }), { ...none, skipped: ["acme/web#7"] }],
    ["…until the PR moves to a new commit", base({ open: [pull(7, sha("c"))], expired: new Set([`acme/web#7@${sha("a")}`]) }), { ...none, deploy: ["acme/web#7:missing"] }],
    ["an open PR whose namespace is terminating waits for the next sweep", base({ open: [pull(8)], namespaces: [ns("web-pr-8", "acme/web#8", { phase: "Terminating" })] }), { ...none, skipped: ["acme/web#8"] }],
  ])("%s", (_name, input, expected) => {
    expect(summary(input)).toEqual(expected);
  });
});

describe("sweep against the fake API server and PostgreSQL", () => {
  useNock();
  const OWNER = "Codertocat";
  const REPO = "Hello-World";
  const logger = createLogger({ level: "silent" });
  let fake: FakeKube;
  let workDir: string;
  let admin: pg.Client;
  let harness: ReturnType<typeof buildJobHarness>;
  const queue = createMemoryQueue({ concurrency: 2 });
  const run = Math.random().toString(36).slice(2, 7);
  const deploys: PreviewRequest[] = [];
  const headsUp: string[] = [];
  const memory = new MemorySweepMemory(); // shared by every sweep here, as PgSweepMemory is across replicas

  const seedNs = (name: string, number: number, annotations: Record<string, string> = {}, labels = ownershipLabels(OWNER, REPO, number)) =>
    fake.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels, annotations: { [REPOSITORY_ANNOTATION]: `${OWNER}/${REPO}`, [SHA_ANNOTATION]: sha("1"), ...annotations } }, status: { phase: "Active" } });
  const dbExists = async (name: string) => ((await admin.query("select 1 from pg_database where datname = $1", [name])).rowCount ?? 0) > 0;
  const p = (number: number, state: "open" | "closed"): FakePull => ({ number, title: `PR ${number}`, branch: `b${number}`, sha: sha("1"), state, fork: false, draft: false, labels: [], author: "Codertocat", files: [] });

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "sweeper-"));
    fake = await startFakeKube({ namespaceFinalizeMs: 20 });
    admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
    await admin.connect();
    harness = buildJobHarness({ kubeConfig: fake.kubeConfig(), adminUrl: process.env.TEST_PG_URL!, queue, logger, workDir, installationId: 2 });
    const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: 2, config: "manifests:\n  path: deploy\nnames:\n  namespace: \"hello-pr-{number}\"\n" });
    for (const [n, state] of [[1, "open"], [2, "closed"], [3, "open"], [4, "open"]] as const) gh.state.pulls.set(n, p(n, state));

    seedNs(`sw${run}-pr-2`, 2); // closed PR: orphan namespace …
    await harness.databases.provision({ key: `${OWNER}/${REPO}#2`, database: `sw${run}_pr_2`, role: `sw${run}_pr_2_app` }); // … and database
    await harness.databases.provision({ key: `${OWNER}/${REPO}#5`, database: `sw${run}_pr_5`, role: `sw${run}_pr_5_app` }); // unknown PR, database only
    seedNs(`sw${run}-pr-3`, 3, { [EXPIRES_ANNOTATION]: new Date(Date.now() - 60_000).toISOString() }); // open, expired
    seedNs(`sw${run}-pr-4`, 4, { "preview-bot.dev/state": "ready" }); // open, up to date
    seedNs(`sw${run}-theirs`, 2, {}, { team: "data", "preview-bot.dev/pr": "2" }); // not ours: no managed-by label
    await admin.query(`create database ${pg.escapeIdentifier(`sw${run}_theirs`)}`); // not ours: no mark
  }, 60_000);

  afterAll(async () => {
    await queue.stop(5_000);
    await harness?.databases.close();
    await admin?.query(`drop database if exists ${pg.escapeIdentifier(`sw${run}_theirs`)}`);
    await admin?.end();
    await fake?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const sweeper = () =>
    createSweeper({
      cluster: harness.cluster,
      // The test PostgreSQL server is shared with other test files: only this file's previews are its "actual" set.
      databases: { list: async () => (await harness.databases.list()).filter((d) => d.database.startsWith(`sw${run}_`)) },
      listOpenPulls: async () => [1, 3, 4].map((number) => ({ installationId: 2, owner: OWNER, repo: REPO, number, sha: sha("1") })),
      dispatch: async (req) => (req.action === "deploy" ? void deploys.push(req) : harness.dispatcher.dispatch(req)),
      logger,
      memory,
      onHeadsUp: async (h) => void headsUp.push(h.key),
    });

  it("a dry run plans and changes nothing", async () => {
    const requests = fake.requests.length;
    const result = await sweeper().sweep({ dryRun: true });
    await queue.onIdle();
    expect(result.plan.deploy.map((d) => d.number)).toEqual([1]);
    expect(result.plan.destroy.map((d) => `${d.number}:${d.reason}`).sort()).toEqual(["2:closed", "3:expired", "5:closed"]);
    expect(result.text).toMatch(/^Sweep \(dry run\): 1 to deploy, 3 to remove/);
    expect(fake.requests.slice(requests).every((r) => r.method === "GET")).toBe(true);
    expect(deploys).toEqual([]);
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-pr-2`)).toBeDefined();
    expect(await dbExists(`sw${run}_pr_2`)).toBe(true);
  });

  it("removes orphans and expired previews, dispatches the missing one, and touches nothing that is not ours", async () => {
    const result = await sweeper().sweep();
    await queue.onIdle();
    expect(result.errors).toEqual([]);
    expect(deploys.map((d) => [d.number, d.action, d.source])).toEqual([[1, "deploy", "sweeper"]]);
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-pr-2`)).toBeUndefined();
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-pr-3`)).toBeUndefined();
    expect(await dbExists(`sw${run}_pr_2`)).toBe(false);
    expect(await dbExists(`sw${run}_pr_5`)).toBe(false);
    // Untouched: the up-to-date preview, the namespace without our label, the database without our mark.
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-pr-4`)).toBeDefined();
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-theirs`)).toBeDefined();
    expect(await dbExists(`sw${run}_theirs`)).toBe(true);
    expect(fake.list("v1", "Namespace").filter((n) => n.metadata.labels?.[Object.keys(MANAGED_BY)[0]!]).map((n) => n.metadata.name)).toEqual([`sw${run}-pr-4`]);
  });

  it("does not bring an expired preview back on the next sweep", async () => {
    deploys.length = 0;
    const result = await sweeper().sweep();
    expect(result.plan.skipped.map((s) => s.what)).toEqual([`${OWNER}/${REPO}#3`]);
    expect(deploys.map((d) => d.number)).toEqual([1]); // #1 is still missing (its deploy was only recorded), #3 stays gone
  });

  it("prunes nothing when the open pull requests cannot be listed", async () => {
    const failing = createSweeper({ cluster: harness.cluster, listOpenPulls: async () => Promise.reject(new Error("GitHub 502")), dispatch: async () => undefined, logger });
    await expect(failing.sweep()).rejects.toThrow(/listing the open pull requests/);
    expect(fake.get("v1", "Namespace", undefined, `sw${run}-pr-4`)).toBeDefined();
  });
});

describe("PgSweepMemory", () => {
  it("claims a (name, value) once across instances sharing the database, and remembers it", async () => {
    const db = await createTestDatabase("sweep_memory");
    const pools = [new pg.Pool({ connectionString: db.url }), new pg.Pool({ connectionString: db.url })];
    try {
      const [a, b] = pools.map((p) => new PgSweepMemory(p)) as [PgSweepMemory, PgSweepMemory];
      const claims = await Promise.all([a.claim("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z"), b.claim("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z")]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await b.has("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z")).toBe(true);
      expect(await a.has("heads-up:acme/web#1", "another expiry")).toBe(false);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    }
  });
});
