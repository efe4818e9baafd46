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
 * What it remembers between sweeps is in sweep-memory.ts, the GitHub listing of the desired set in open-pulls.ts.
 */
import type { Logger } from "../../logger.js";
import { SlotScheduler, type ScheduleLock } from "./schedule.js";
import type { PreviewRequest } from "../shared/dispatch.js";
import { EXPIRES_ANNOTATION, isProtectedNamespace, MANAGED_BY, PR_LABEL, REPOSITORY_ANNOTATION, SHA_ANNOTATION } from "../shared/labels.js";
import type { Cluster, Databases } from "../shared/preview.js";
import { previewKey } from "../shared/preview.js";
import { MemorySweepMemory, type SweepMemory } from "./sweep-memory.js";

export { MemorySweepMemory, PgSweepMemory, SWEEP_MEMORY_TABLE, type SweepMemory } from "./sweep-memory.js";
import type { ListOpenPulls, OpenPull } from "./open-pulls.js";

export { githubOpenPulls, type ListOpenPulls, type OpenPull } from "./open-pulls.js";

/** The runner's STATE_ANNOTATION (`deploying` | `ready` | `failed`), repeated here so the sweeper needs no runner import. */
const STATE_ANNOTATION = "preview-bot.dev/state";

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
