/**
 * The sweeper: a level-triggered reconcile (Argo CD ApplicationSet style). Webhooks make previews fast; this makes
 * them right when a delivery was lost or a pod died mid-deploy.
 *
 *   desired = open pull requests of enrolled repositories (`listOpenPulls`, from the GitHub App's installations)
 *   actual  = namespaces labelled ours (repository annotation + PR label, head-SHA and expiry annotations)
 *             and databases carrying our mark (their preview key)
 *
 * The plan (pure, `planSweep`) deploys where an open PR has no preview, a stale SHA or a failed/interrupted deploy
 * (the runner still applies the repository's trigger policy: source "sweeper" counts as automatic), destroys the
 * previews of closed or unknown PRs and those past `expires-at`, and warns some time before expiry. Nothing without
 * our label or mark is ever seen, let alone touched; protected namespaces are skipped whatever their labels say.
 * Work goes through `dispatch` (the queue), so it is serialized with webhook jobs of the same preview.
 *
 * Longer than 300 lines: planning (pure), acting, the per-SHA retry memory and the GitHub listing of open pulls
 * form one reconcile loop; they are read together.
 */
import type pg from "pg";
import type { Logger } from "../../logger.js";
import { SlotScheduler, type ScheduleLock } from "./schedule.js";
import type { PreviewRequest } from "../shared/dispatch.js";
import { loadRepoConfig, type Octokit } from "../github/reads.js";
import { EXPIRES_ANNOTATION, isProtectedNamespace, MANAGED_BY, PR_LABEL, REPOSITORY_ANNOTATION, SHA_ANNOTATION } from "../shared/labels.js";
import type { Cluster, Databases } from "../shared/preview.js";
import { previewKey } from "../shared/preview.js";

/** The runner's STATE_ANNOTATION (`deploying` | `ready` | `failed`), repeated here so the sweeper needs no runner import. */
const STATE_ANNOTATION = "preview-bot.dev/state";

/** One open pull request of an enrolled repository (`.github/preview.yml` on its default branch). */
export interface OpenPull {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  /** Head commit SHA. */
  sha: string;
  /** The repository's configured TTL, when it has one (sizes the expiry heads-up). */
  ttlMs?: number;
}

/** Must list every open PR of every enrolled repository, or throw: a partial list would prune live previews. */
export type ListOpenPulls = () => Promise<OpenPull[]>;

export interface NamespaceFacts {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: string;
}

export interface SweepInput {
  open: OpenPull[];
  namespaces: NamespaceFacts[];
  databases: Array<{ database: string; key: string }>;
  now: number;
  /** `key@sha` of previews the sweeper expired: not redeployed until the PR moves on (push, /preview deploy). */
  expired?: ReadonlySet<string>;
  protectedNamespaces?: readonly string[];
  /** How long before expiry to warn (default: 10 % of the TTL when known, else 24 h, never more than 24 h). */
  headsUpMs?: (ttlMs: number | undefined) => number;
}

export interface DeployItem { key: string; owner: string; repo: string; number: number; installationId: number; sha: string; reason: "missing" | "stale" | "failed" }
export interface DestroyItem { key: string; owner: string; repo: string; number: number; installationId?: number; namespaces: string[]; databases: string[]; reason: "closed" | "expired"; sha?: string }
export interface HeadsUpItem { key: string; owner: string; repo: string; number: number; installationId: number; namespace: string; expiresAt: string }
export interface SkipItem { what: string; reason: string }

export interface SweepPlan {
  deploy: DeployItem[];
  destroy: DestroyItem[];
  headsUp: HeadsUpItem[];
  skipped: SkipItem[];
}

const DAY = 86_400_000;
const defaultHeadsUp = (ttlMs: number | undefined) => Math.min(DAY, ttlMs ? ttlMs / 10 : DAY);

function parseKey(key: string): { owner: string; repo: string; number: number } | undefined {
  const m = /^([^/#\s]+)\/([^/#\s]+)#(\d+)$/.exec(key);
  return m ? { owner: m[1]!, repo: m[2]!, number: Number(m[3]) } : undefined;
}

/** Desired vs actual → what to do. Pure: no I/O, no clock (give `now`). */
export function planSweep(input: SweepInput): SweepPlan {
  const plan: SweepPlan = { deploy: [], destroy: [], headsUp: [], skipped: [] };
  const open = new Map(input.open.map((p) => [previewKey(p), p]));
  const headsUpMs = input.headsUpMs ?? defaultHeadsUp;
  const byKey = new Map<string, { namespaces: NamespaceFacts[]; databases: string[] }>();
  const slot = (key: string) => byKey.get(key) ?? byKey.set(key, { namespaces: [], databases: [] }).get(key)!;

  for (const ns of input.namespaces) {
    if (ns.labels[MANAGED_BY_KEY] !== MANAGED_BY_VALUE) continue; // never ours to judge
    if (isProtectedNamespace(ns.name, input.protectedNamespaces)) {
      plan.skipped.push({ what: `namespace ${ns.name}`, reason: "protected" });
      continue;
    }
    const repository = ns.annotations[REPOSITORY_ANNOTATION];
    const pr = ns.labels[PR_LABEL];
    const key = repository && pr && /^\d+$/.test(pr) ? `${repository}#${pr}` : undefined;
    if (!key || !parseKey(key)) {
      plan.skipped.push({ what: `namespace ${ns.name}`, reason: "labelled ours but without a repository annotation and PR label: left for a person" });
      continue;
    }
    slot(key).namespaces.push(ns);
  }
  for (const db of input.databases) {
    if (!parseKey(db.key)) {
      plan.skipped.push({ what: `database ${db.database}`, reason: `marked ours with an unreadable key ${JSON.stringify(db.key)}` });
      continue;
    }
    slot(db.key).databases.push(db.database);
  }

  for (const [key, actual] of byKey) {
    const pull = open.get(key);
    const id = parseKey(key)!;
    const live = actual.namespaces.filter((n) => n.phase !== "Terminating");
    if (!pull) {
      if (live.length === 0 && actual.databases.length === 0) continue; // already going away
      plan.destroy.push({ key, ...id, namespaces: live.map((n) => n.name), databases: actual.databases, reason: "closed" });
      continue;
    }
    const expiries = live.map((n) => Date.parse(n.annotations[EXPIRES_ANNOTATION] ?? "")).filter((t) => Number.isFinite(t));
    const expiresAt = expiries.length ? Math.min(...expiries) : undefined;
    if (expiresAt !== undefined && expiresAt <= input.now) {
      plan.destroy.push({ key, ...id, installationId: pull.installationId, namespaces: live.map((n) => n.name), databases: actual.databases, reason: "expired", sha: pull.sha });
      continue;
    }
    if (expiresAt !== undefined && expiresAt - input.now <= headsUpMs(pull.ttlMs)) {
      const ns = live.find((n) => Date.parse(n.annotations[EXPIRES_ANNOTATION] ?? "") === expiresAt)!;
      plan.headsUp.push({ key, ...id, installationId: pull.installationId, namespace: ns.name, expiresAt: new Date(expiresAt).toISOString() });
    }
  }

  for (const [key, pull] of open) {
    const actual = byKey.get(key);
    const namespaces = actual?.namespaces ?? [];
    const deploy = (reason: DeployItem["reason"]) => plan.deploy.push({ key, owner: pull.owner, repo: pull.repo, number: pull.number, installationId: pull.installationId, sha: pull.sha, reason });
    if (plan.destroy.some((d) => d.key === key)) continue;
    if (namespaces.some((n) => n.phase === "Terminating")) {
      plan.skipped.push({ what: key, reason: "its namespace is terminating; the next sweep looks again" });
      continue;
    }
    if (namespaces.length === 0) {
      if (input.expired?.has(`${key}@${pull.sha}`)) plan.skipped.push({ what: key, reason: `expired at ${pull.sha.slice(0, 7)}; a push or /preview deploy brings it back` });
      else deploy("missing");
      continue;
    }
    if (namespaces.some((n) => n.annotations[SHA_ANNOTATION] !== pull.sha)) deploy("stale");
    else if (namespaces.some((n) => n.annotations[STATE_ANNOTATION] === "failed" || n.annotations[STATE_ANNOTATION] === "deploying")) deploy("failed");
  }
  return plan;
}

const MANAGED_BY_KEY = Object.keys(MANAGED_BY)[0]!;
const MANAGED_BY_VALUE = MANAGED_BY[MANAGED_BY_KEY]!;

/** What the sweeper remembers between sweeps (shared across replicas with PostgreSQL). */
export interface SweepMemory {
  /** True for exactly one caller per (name, value). */
  claim(name: string, value: string): Promise<boolean>;
  has(name: string, value: string): Promise<boolean>;
}

export class MemorySweepMemory implements SweepMemory {
  private readonly marks = new Set<string>();
  async claim(name: string, value: string): Promise<boolean> {
    const k = JSON.stringify([name, value]);
    if (this.marks.has(k)) return false;
    this.marks.add(k);
    return true;
  }
  async has(name: string, value: string): Promise<boolean> {
    return this.marks.has(JSON.stringify([name, value]));
  }
}

export const SWEEP_MEMORY_TABLE = "preview_bot_sweep_marks";

export class PgSweepMemory implements SweepMemory {
  private ready: Promise<unknown> | undefined;
  private readonly pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.pool = pool;
  }
  private init(): Promise<unknown> {
    this.ready ??= this.pool
      .query(`create table if not exists ${SWEEP_MEMORY_TABLE} (name text not null, value text not null, at timestamptz not null default now(), primary key (name, value))`)
      .catch((err: Error & { code?: string }) => {
        if (err.code === "23505" || err.code === "42P07") return;
        this.ready = undefined;
        throw new Error(`creating ${SWEEP_MEMORY_TABLE}`, { cause: err });
      });
    return this.ready;
  }
  async claim(name: string, value: string): Promise<boolean> {
    await this.init();
    const res = await this.pool.query(`insert into ${SWEEP_MEMORY_TABLE} (name, value) values ($1, $2) on conflict do nothing`, [name, value]);
    return res.rowCount === 1;
  }
  async has(name: string, value: string): Promise<boolean> {
    await this.init();
    return ((await this.pool.query(`select 1 from ${SWEEP_MEMORY_TABLE} where name = $1 and value = $2`, [name, value])).rowCount ?? 0) > 0;
  }
}

export interface SweeperOptions {
  cluster: Pick<Cluster, "listNamespaces">;
  databases?: Pick<Databases, "list">;
  listOpenPulls: ListOpenPulls;
  /** Hands a deploy/destroy to the queue (the Dispatcher's dispatch, or an enqueue the wiring builds). */
  dispatch(request: PreviewRequest): Promise<unknown>;
  logger: Logger;
  now?: () => number;
  memory?: SweepMemory;
  protectedNamespaces?: readonly string[];
  headsUpMs?: SweepInput["headsUpMs"];
  /** Redeploys of a failed/interrupted preview per head SHA (default 2): bounded, so a broken PR is not redeployed forever. */
  failedRetriesPerSha?: number;
  /** Told once per (preview, expiry) that it expires soon; the wiring posts to Slack with an "extend" button. */
  onHeadsUp?(item: HeadsUpItem): Promise<void>;
}

export interface SweepResult {
  dryRun: boolean;
  plan: SweepPlan;
  dispatched: string[];
  errors: string[];
  /** A short text for Slack/logs. */
  text: string;
}

export interface Sweeper {
  sweep(opts?: { dryRun?: boolean }): Promise<SweepResult>;
}

export function createSweeper(opts: SweeperOptions): Sweeper {
  const log = opts.logger.child({ component: "sweeper" });
  const memory = opts.memory ?? new MemorySweepMemory();
  const now = opts.now ?? Date.now;
  const maxRetries = opts.failedRetriesPerSha ?? 2;

  async function sweep({ dryRun = false }: { dryRun?: boolean } = {}): Promise<SweepResult> {
    // Desired first: if GitHub cannot be read, nothing is planned, so nothing is pruned.
    const open = await opts.listOpenPulls().catch((err: unknown) => {
      throw new Error("sweeping previews: listing the open pull requests of enrolled repositories", { cause: err });
    });
    const namespaces = await opts.cluster.listNamespaces({ ...MANAGED_BY });
    const databases = opts.databases ? await opts.databases.list() : [];
    const withPreview = new Set(namespaces.map((n) => `${n.annotations[REPOSITORY_ANNOTATION]}#${n.labels[PR_LABEL]}`));
    const expired = new Set<string>();
    for (const p of open) {
      const key = previewKey(p);
      if (!withPreview.has(key) && (await memory.has(`expired:${key}`, p.sha))) expired.add(`${key}@${p.sha}`);
    }
    const plan = planSweep({ open, namespaces, databases, now: now(), expired, ...(opts.protectedNamespaces ? { protectedNamespaces: opts.protectedNamespaces } : {}), ...(opts.headsUpMs ? { headsUpMs: opts.headsUpMs } : {}) });
    const dispatched: string[] = [];
    const errors: string[] = [];
    if (!dryRun) {
      const attempt = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
          log.warn({ err }, `sweep: ${what} failed`);
        }
      };
      for (const d of plan.destroy) {
        await attempt(`destroying ${d.key}`, async () => {
          await opts.dispatch(request(d, "destroy", d.reason === "expired" ? "expired (TTL)" : "pull request closed or unknown"));
          if (d.reason === "expired" && d.sha) await memory.claim(`expired:${d.key}`, d.sha);
          dispatched.push(`destroy ${d.key} (${d.reason})`);
        });
      }
      for (const d of plan.deploy) {
        await attempt(`deploying ${d.key}`, async () => {
          if (d.reason === "failed" && !(await claimRetry(d))) {
            plan.skipped.push({ what: d.key, reason: `its deploy of ${d.sha.slice(0, 7)} failed and was retried ${maxRetries} time(s) already` });
            return;
          }
          await opts.dispatch(request(d, "deploy", `${d.reason} preview`));
          dispatched.push(`deploy ${d.key} (${d.reason})`);
        });
      }
      for (const h of plan.headsUp) {
        await attempt(`warning ${h.key} of its expiry`, async () => {
          if (opts.onHeadsUp && (await memory.claim(`heads-up:${h.key}`, h.expiresAt))) await opts.onHeadsUp(h);
        });
      }
    }
    const result: SweepResult = { dryRun, plan, dispatched, errors, text: "" };
    result.text = sweepReportText(result);
    log.info({ deploy: plan.deploy.length, destroy: plan.destroy.length, errors: errors.length, dryRun }, result.text.split("\n")[0]!);
    return result;
  }

  async function claimRetry(d: DeployItem): Promise<boolean> {
    for (let n = 1; n <= maxRetries; n++) if (await memory.claim(`retry-failed:${d.key}`, `${d.sha}:${n}`)) return true;
    return false;
  }

  return { sweep };
}

function request(item: { owner: string; repo: string; number: number; installationId?: number }, action: "deploy" | "destroy", why: string): PreviewRequest {
  return {
    action,
    owner: item.owner,
    repo: item.repo,
    number: item.number,
    actor: `preview-bot sweeper (${why})`,
    source: "sweeper",
    ...(item.installationId !== undefined ? { installationId: item.installationId } : {}),
  };
}

/** "Sweep: 2 to deploy, 1 to remove" and one line per action, for Slack and the CLI. */
export function sweepReportText(r: Pick<SweepResult, "dryRun" | "plan" | "errors">): string {
  const { plan } = r;
  const head = `${r.dryRun ? "Sweep (dry run)" : "Sweep"}: ${plan.deploy.length} to deploy, ${plan.destroy.length} to remove, ${plan.headsUp.length} expiring soon${r.errors.length ? `, ${r.errors.length} error(s)` : ""}`;
  const lines = [
    ...plan.deploy.map((d) => `• deploy ${d.key} @ ${d.sha.slice(0, 7)} (${d.reason})`),
    ...plan.destroy.map((d) => `• remove ${d.key}: ${[...d.namespaces.map((n) => `namespace ${n}`), ...d.databases.map((db) => `database ${db}`)].join(", ") || "nothing left"} (${d.reason})`),
    ...plan.headsUp.map((h) => `• ${h.key} expires at ${h.expiresAt}`),
    ...plan.skipped.map((s) => `• skipped ${s.what}: ${s.reason}`),
    ...r.errors.map((e) => `• error: ${e}`),
  ];
  return [head, ...lines.slice(0, 50), ...(lines.length > 50 ? [`… and ${lines.length - 50} more`] : [])].join("\n");
}

/**
 * `listOpenPulls` from the GitHub App: every installation, every repository it can see that has
 * `.github/preview.yml` on its default branch (valid or not: a broken config must not get live previews pruned),
 * and each one's open pull requests. Any error rejects the whole listing.
 */
export function githubOpenPulls(opts: { app(): Promise<Octokit>; octokitFor(installationId: number): Promise<Octokit> }): ListOpenPulls {
  return async () => {
    const app = await opts.app();
    const out: OpenPull[] = [];
    for (const inst of await app.paginate(app.rest.apps.listInstallations, { per_page: 100 })) {
      const octokit = await opts.octokitFor(inst.id);
      for (const r of await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 })) {
        if (r.archived) continue;
        const config = await loadRepoConfig(octokit, r.owner.login, r.name);
        if (!config) continue;
        const ttlMs = config.ok ? config.config.ttl : undefined;
        for (const p of await octokit.paginate(octokit.rest.pulls.list, { owner: r.owner.login, repo: r.name, state: "open", per_page: 100 })) {
          out.push({ installationId: inst.id, owner: r.owner.login, repo: r.name, number: p.number, sha: p.head.sha, ...(ttlMs ? { ttlMs } : {}) });
        }
      }
    }
    return out;
  };
}

/** Sweeps on a cron schedule, once per slot across replicas (the backups' ScheduleLock: PgScheduleLock with a database). */
export function createSweepScheduler(opts: { sweeper: Sweeper; lock: ScheduleLock; schedule?: string; logger: Logger; onResult?(result: SweepResult): Promise<void> }): SlotScheduler {
  return new SlotScheduler({
    jobs: [{ name: "preview-sweep", schedule: opts.schedule ?? "*/10 * * * *" }],
    lock: opts.lock,
    logger: opts.logger,
    run: async () => {
      const result = await opts.sweeper.sweep();
      await opts.onResult?.(result);
    },
  });
}
