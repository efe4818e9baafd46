/**
 * Small typed fakes of the runner's parts (RunnerDeps, src/services/preview/context.ts), for unit tests of the deploy
 * steps: each records what a step asked of it (`calls`, in order) and answers what the test set. They stand in for
 * the parts only where a step's *decision* is under test; what the parts themselves do is tested against real ones
 * (the real control plane, PostgreSQL, Azurite, helm and kustomize) in their own files.
 *
 * `deployContext()` builds the context a step gets, from a real repository config (parseConfig) and the real names
 * (previewNamesFor), as the runner's startRun does. A part a step must not use is `unusedPart()`: any use throws.
 *
 * Longer than 300 lines: each fake implements its whole interface (so a step's unexpected call is recorded, not a
 * crash), and the context builder belongs with them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig, type PreviewConfig } from "../../src/config.js";
import { loadEnv } from "../../src/env.js";
import { createLogger } from "../../src/logger.js";
import type { BackupEntry } from "../../src/services/data/backups/catalog.js";
import type { PreviewBackups } from "../../src/services/data/backups/previews.js";
import type { RestoreResult } from "../../src/services/data/backups/restore.js";
import type { PullFacts } from "../../src/services/github/reads.js";
import { newReport, type RunnerDeps } from "../../src/services/preview/context.js";
import type { DeployContext } from "../../src/services/preview/deploy/context.js";
import { guardrailSettings } from "../../src/services/preview/guardrails/namespace-guardrails.js";
import { previewNamesFor } from "../../src/services/preview/naming.js";
import type { RenderInput, RenderResult, Renderer } from "../../src/services/preview/render/index.js";
import type { PreviewJob } from "../../src/services/shared/dispatch.js";
import {
  refOf,
  type AppliedRef,
  type Cluster,
  type ClusterCapabilities,
  type DatabaseCredentials,
  type DryRunAnswer,
  type Databases,
  type HookResult,
  type KubeObject,
  type ObjectRef,
  type PreviewRef,
} from "../../src/services/shared/preview.js";
import { logSink, type LogLine } from "./log-sink.js";

/** A part the code under test must not touch: reading any property throws, naming the part. */
function unusedPart<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      throw new Error(`${name}.${String(prop)} was used, but this test's code must not use ${name}`);
    },
  });
}

/** A namespace as `Cluster.listNamespaces` lists it. */
export type ListedNamespace = Awaited<ReturnType<Cluster["listNamespaces"]>>[number];

/** The Cluster: namespaces it lists, and what apply and prune answer; every call recorded. */
export class FakeCluster implements Cluster {
  readonly calls: Array<{ method: keyof Cluster; args: unknown[] }> = [];
  namespaces: ListedNamespace[] = [];
  /** What apply answers (default: every object, as applied plainly); throw to fail it. */
  applyAnswer: (objects: KubeObject[]) => AppliedRef[] = (objects) => objects.map(refOf);
  pruneAnswer: ObjectRef[] = [];
  /** What the dry run answers (default: every object accepted). */
  dryRunAnswer: (objects: readonly KubeObject[]) => DryRunAnswer[] = (objects) =>
    objects.map((o) => ({ ref: refOf(o), outcome: "accepted", warnings: [] }));
  /** Secrets readSecret finds, by "namespace/name" (data base64, as the API holds it). */
  secrets: Record<string, { type: string; data: Record<string, string> }> = {};
  capabilitiesAnswer: ClusterCapabilities = { kubeVersion: "v1.37.2", apiVersions: ["v1", "apps/v1"] };
  /** How each hook ends (default: it succeeded). */
  hookAnswer: (ref: ObjectRef) => HookResult = (ref) => ({ ...ref, state: "succeeded", summary: "completed" });

  private record(method: keyof Cluster, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }
  methods(): Array<keyof Cluster> {
    return this.calls.map((c) => c.method);
  }

  async ensureNamespace(name: string, labels: Record<string, string>, annotations: Record<string, string>) {
    this.record("ensureNamespace", name, labels, annotations);
  }
  async annotateNamespace(name: string, annotations: Record<string, string>) {
    this.record("annotateNamespace", name, annotations);
  }
  async apply(objects: KubeObject[]) {
    this.record("apply", objects);
    return this.applyAnswer(objects);
  }
  async dryRun(objects: readonly KubeObject[]) {
    this.record("dryRun", objects);
    return this.dryRunAnswer(objects);
  }
  async prune(namespace: string, selector: Record<string, string>, keep: ObjectRef[], opts?: { dryRun?: boolean }) {
    this.record("prune", namespace, selector, keep, ...(opts ? [opts] : []));
    return this.pruneAnswer;
  }
  async deleteClusterScoped(namespace: string, opts?: { dryRun?: boolean }) {
    this.record("deleteClusterScoped", namespace, opts);
    return [];
  }
  async waitForRollout(namespace: string, timeoutMs: number) {
    this.record("waitForRollout", namespace, timeoutMs);
    return [];
  }
  async upsertSecret(namespace: string, name: string, data: Record<string, string>, labels: Record<string, string>) {
    this.record("upsertSecret", namespace, name, data, labels);
  }
  async suspendCronJobs(namespace: string) {
    this.record("suspendCronJobs", namespace);
    return [];
  }
  async deleteNamespace(name: string, opts: { waitMs: number }) {
    this.record("deleteNamespace", name, opts);
    return "deleted" as const;
  }
  async resourceScope(apiVersion: string, kind: string) {
    this.record("resourceScope", apiVersion, kind);
    return "Namespaced" as const;
  }
  async bindClusterRole(namespace: string, binding: unknown) {
    this.record("bindClusterRole", namespace, binding);
    return "created" as const;
  }
  async waitForQuotas(namespace: string, names: string[], timeoutMs: number) {
    this.record("waitForQuotas", namespace, names, timeoutMs);
  }
  async readObject(apiVersion: string, kind: string, namespace: string | undefined, name: string) {
    this.record("readObject", apiVersion, kind, namespace, name);
    return undefined;
  }
  async readSecret(namespace: string, name: string) {
    this.record("readSecret", namespace, name);
    return this.secrets[`${namespace}/${name}`];
  }
  async capabilities() {
    this.record("capabilities");
    return this.capabilitiesAnswer;
  }
  async deleteObject(ref: ObjectRef, opts: { waitMs: number }) {
    this.record("deleteObject", ref, opts);
    return "absent" as const;
  }
  async waitForHooks(refs: readonly ObjectRef[], timeoutMs: number) {
    this.record("waitForHooks", refs, timeoutMs);
    return refs.map((r) => this.hookAnswer(r));
  }
  async listNamespaces(selector: Record<string, string>) {
    this.record("listNamespaces", selector);
    return this.namespaces;
  }
}

/** The preview databases: which exist (by name and key), and whether provisioning or dropping fails. */
export class FakeDatabases implements Databases {
  readonly calls: Array<{ method: keyof Databases; args: unknown[] }> = [];
  existing: Array<{ database: string; key: string; role?: string }> = [];
  strays: Array<{ role: string; key: string; database?: string }> = [];
  provisionError?: Error;
  dropError?: Error;

  credentials(database: string, user: string): DatabaseCredentials {
    const password = "pw-not-a-real-secret";
    return {
      host: "10.0.0.5",
      port: 5432,
      database,
      user,
      password,
      url: `postgres://${user}:${password}@10.0.0.5:5432/${database}?sslmode=require`,
    };
  }
  async provision(...args: Parameters<Databases["provision"]>) {
    this.calls.push({ method: "provision", args });
    if (this.provisionError) throw this.provisionError;
    return this.credentials(args[0].database, args[0].role);
  }
  async drop(...args: Parameters<Databases["drop"]>) {
    this.calls.push({ method: "drop", args });
    if (this.dropError) throw this.dropError;
    return { database: "dropped" as const, role: "dropped" as const };
  }
  async list() {
    this.calls.push({ method: "list", args: [] });
    return this.existing;
  }
  async strayRoles() {
    this.calls.push({ method: "strayRoles", args: [] });
    return this.strays;
  }
  async close() {
    this.calls.push({ method: "close", args: [] });
  }
}

/** Backups as the Database step uses them: `seed` from a target's latest backup (the rest is not its business). */
export class FakeBackups implements PreviewBackups {
  readonly seeds: Array<{ target: string; repository: string; toUrl: string }> = [];
  seedError?: Error;
  entry: BackupEntry = {
    name: "db/2026/12/07/shop-20261207T020000Z.dump",
    time: new Date("2026-12-07T02:00:00Z"),
    size: 1_048_576,
    etag: '"0x8DE1"',
    metadata: {},
  };

  async seed(target: string, repository: string, toUrl: string): Promise<RestoreResult & { entry: BackupEntry }> {
    this.seeds.push({ target, repository, toUrl });
    if (this.seedError) throw this.seedError;
    return {
      target,
      blobName: this.entry.name,
      bytes: this.entry.size,
      durationMs: 1200,
      database: "x",
      entry: this.entry,
    };
  }
  async backup(): Promise<never> {
    throw new Error("backups.backup was used, but a deploy step takes no backups");
  }
  async list(): Promise<never> {
    throw new Error("backups.list was used, but a deploy step lists no backups");
  }
  async resolve(): Promise<never> {
    throw new Error("backups.resolve was used, but a deploy step resolves no backups");
  }
  async restore(): Promise<never> {
    throw new Error("backups.restore was used, but a deploy step restores only through seed");
  }
}

/**
 * What a fake render answers; the isolation defaults to a namespaces sandbox, access to the input's mode with no hosts
 * and no grants, the sources (no object's file known), the hooks' plan and the pins to none.
 */
type FakeRenderResult = Omit<RenderResult, "isolation" | "access" | "sources" | "hooks" | "pinned"> &
  Partial<Pick<RenderResult, "isolation" | "access" | "sources" | "hooks" | "pinned">>;

/** The renderer: answers `result` (or throws `error`), keeping each input. */
export class FakeRenderer implements Renderer {
  readonly inputs: RenderInput[] = [];
  error?: Error;
  constructor(
    public result: FakeRenderResult = { objects: [], warnings: [], rewrites: [], notes: [], type: "plain" },
  ) {}
  async render(input: RenderInput): Promise<RenderResult> {
    this.inputs.push(input);
    if (this.error) throw this.error;
    return {
      isolation: { isolation: "namespaces", detail: "user, mount, network namespaces" },
      sources: [], // no object's file known
      access: { mode: input.access ?? "public", hosts: [], grants: [] },
      hooks: [],
      pinned: [],
      ...this.result,
    };
  }
}

/** A repository config as `.github/preview.yml` would give it (YAML or JSON text, or an object); throws if invalid. */
function repoConfig(config: Record<string, unknown>): PreviewConfig {
  const parsed = parseConfig(JSON.stringify({ manifests: { path: "deploy" }, ...config }));
  if (!parsed.ok) throw new Error(`test config is invalid: ${parsed.errors.join("; ")}`);
  return parsed.config;
}

export interface StepBench {
  ctx: DeployContext;
  cluster: FakeCluster;
  databases: FakeDatabases;
  backups: FakeBackups;
  renderer: FakeRenderer;
  /** What the step logged. */
  logs: LogLine[];
  /** The step's detail lines, in order. */
  details: string[];
  detail: (text: string) => void;
  /** Remove the checkout directory. */
  cleanup(): Promise<void>;
}

export interface StepBenchOptions {
  config?: Record<string, unknown>;
  pull?: Partial<PullFacts>;
  /** Leave these parts out of RunnerDeps (as a bot without PREVIEW_DATABASE_URL or backup storage runs). */
  without?: Array<"databases" | "backups">;
  deps?: Partial<Pick<RunnerDeps, "seedForkPreviews" | "sleep" | "appSecrets">>;
  /** What earlier steps left (the render's objects, what Apply applied). */
  objects?: KubeObject[];
  applied?: ObjectRef[];
  /** Of the objects, the bot's own (the database Secret, copied Secrets), as the Database and App secrets steps leave. */
  ownObjects?: KubeObject[];
  expiresAt?: string;
  /** `database.seed`'s text as the renderer read it (the Render manifests step leaves it). */
  seed?: string;
}

/** A DeployContext for acme/web#42 at a fixed head commit, with fakes for every part, as startRun builds it. */
export async function stepBench(opts: StepBenchOptions = {}): Promise<StepBench> {
  const pull: PullFacts = {
    number: 42,
    state: "open",
    title: "Add the checkout page",
    branch: "feature/checkout",
    sha: "4f8e2c1d9b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e",
    fork: false,
    draft: false,
    labels: [],
    htmlUrl: "https://github.com/acme/web/pull/42",
    baseBranch: "main",
    baseSha: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    author: "octocat",
    private: false,
    ...opts.pull,
  };
  const config = repoConfig(opts.config ?? {});
  const ref: PreviewRef = {
    owner: "acme",
    repo: "web",
    number: 42,
    branch: pull.branch,
    sha: pull.sha,
    fork: pull.fork,
  };
  const names = previewNamesFor(ref, config);
  const report = newReport("deploy", ref, names, "push by @octocat");
  report.url = names.url;
  report.links = names.url
    ? config.links.map((l) => ({ title: l.title, url: new URL(l.path.replace(/^\//, ""), names.url).toString() }))
    : [];
  if (opts.expiresAt) report.expiresAt = opts.expiresAt;
  const job: PreviewJob = {
    installationId: 1,
    owner: "acme",
    repo: "web",
    number: 42,
    trigger: "push by @octocat",
    source: "webhook",
    action: "deploy",
  };
  const cluster = new FakeCluster();
  const databases = new FakeDatabases();
  const backups = new FakeBackups();
  const renderer = new FakeRenderer();
  const sink = logSink();
  const without = new Set(opts.without ?? []);
  const dir = await mkdtemp(join(tmpdir(), "step-"));
  const deps: RunnerDeps = {
    cluster,
    renderer,
    ...(without.has("databases") ? {} : { databases }),
    ...(without.has("backups") ? {} : { backups }),
    github: unusedPart<RunnerDeps["github"]>("github"),
    logger: createLogger({ level: "debug", destination: sink.stream }),
    workDir: dir,
    namespaceDeleteTimeoutMs: 60_000,
    guardrails: guardrailSettings(loadEnv({})),
    images: { registry: unusedPart("registry"), defaultWaitMs: 0, pollMs: 1, maxPollMs: 1 },
    ...opts.deps,
  };
  const details: string[] = [];
  return {
    ctx: {
      deps,
      job,
      octokit: unusedPart<DeployContext["octokit"]>("octokit"),
      pull,
      config,
      ref,
      names,
      report,
      dir,
      // What Fetch source leaves: the PR's tree as a tarball (the fake renderer never opens it).
      source: { kind: "tarball", file: join(dir, "source.tar") },
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      objects: opts.objects ?? [],
      origins: new Map(),
      ownObjects: opts.ownObjects ?? [],
      applied: opts.applied ?? [],
      workloads: [],
      // As startRun decides it: the config's access, else github for a private repository; a fixed nonce.
      access: {
        mode: config.access ?? (pull.private ? "github" : "public"),
        nonce: "test-nonce",
        hosts: [],
        grants: [],
      },
      pinned: [],
      park: (wait) => wait(),
    },
    cluster,
    databases,
    backups,
    renderer,
    logs: sink.lines,
    details,
    detail: (text) => void details.push(text),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
