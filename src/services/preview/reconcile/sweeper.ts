/**
 * The sweeper: a level-triggered reconcile (Argo CD ApplicationSet style). Webhooks make previews fast; this makes
 * them right when a delivery was lost or a pod died mid-deploy.
 *
 *   desired = open pull requests of enrolled repositories (`listOpenPulls`, from the GitHub App's installations)
 *   actual  = namespaces labelled ours (repository annotation + PR label, head-SHA and expiry annotations),
 *             databases carrying our mark (their preview key), and roles carrying our mark that own no database
 *
 * The plan (pure, `planSweep`) deploys where an open PR has no preview, a stale SHA or a failed/interrupted deploy
 * (the runner still applies the repository's trigger policy: source "sweeper" counts as automatic), destroys the
 * previews of closed or unknown PRs and those past `expires-at`, and warns some time before expiry. Nothing without
 * our label or mark is ever seen, let alone touched; protected namespaces are skipped whatever their labels say.
 * Work goes through the intake (`submit`, its gate, then the queue), so it is serialized with webhook jobs of the same
 * preview.
 * The plan itself is pure (sweep-plan.ts); what the sweeper remembers between sweeps is in sweep-memory.ts, the
 * GitHub listing of the desired set in open-pulls.ts.
 */
import { describeError } from "../../shared/format.js";
import type { Logger } from "../../../logger.js";
import { SlotScheduler, type ScheduleLock } from "../../jobs/schedule.js";
import type { Request } from "../../shared/request.js";
import { AUTHOR_ANNOTATION, MANAGED_BY, PR_LABEL, REPOSITORY_ANNOTATION } from "../../shared/labels.js";
import type { Cluster, Databases } from "../../shared/preview.js";
import { previewKey } from "../../shared/preview.js";
import { MemorySweepMemory, type SweepMemory } from "./sweep-memory.js";

export { MemorySweepMemory, PgSweepMemory, type SweepMemory } from "./sweep-memory.js";
import type { ListOpenPulls } from "../../github/open-pulls.js";
import { planSweep, type DeployItem, type HeadsUpItem, type SweepInput, type SweepPlan } from "./sweep-plan.js";

export { type ListOpenPulls } from "../../github/open-pulls.js";
export { type HeadsUpItem, type SweepInput, type SweepPlan } from "./sweep-plan.js";

export interface SweeperOptions {
  cluster: Pick<Cluster, "listNamespaces">;
  databases?: Pick<Databases, "list" | "strayRoles">;
  listOpenPulls: ListOpenPulls;
  /** Hands a deploy/destroy to the intake (its gate, then the queue), like every door. */
  submit(request: Request): Promise<unknown>;
  logger: Logger;
  now?: () => number;
  memory?: SweepMemory;
  protectedNamespaces?: readonly string[];
  headsUpMs?: SweepInput["headsUpMs"];
  /**
   * Redeploys of a failed/interrupted preview per head SHA (default 2): bounded, so a broken PR is not redeployed
   * forever.
   */
  failedRetriesPerSha?: number;
  /** Told once per (preview, expiry) that it expires soon; the wiring posts to Slack with an "extend" button. */
  onHeadsUp?(item: HeadsUpItem): Promise<void>;
  /** Keys with a job queued or running (the queue's activeKeys): the sweep leaves those previews to that job. */
  activeKeys?(): Promise<ReadonlySet<string>>;
  /**
   * The fleet's seats and line against what exists (fleet.ts `reconcile`): the previews found (key, repository,
   * author), the keys being worked on, and the open pull requests. Called on every sweep that is not a dry run.
   */
  reconcileSeats?(
    existing: Array<{ key: string; repo: string; author: string }>,
    busy: ReadonlySet<string>,
    open: ReadonlySet<string>,
  ): Promise<void>;
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

class PreviewSweeper implements Sweeper {
  private readonly log: Logger;
  private readonly memory: SweepMemory;
  private readonly now: () => number;
  private readonly maxRetries: number;

  constructor(private readonly opts: SweeperOptions) {
    this.log = opts.logger.child({ component: "sweeper" });
    this.memory = opts.memory ?? new MemorySweepMemory();
    this.now = opts.now ?? Date.now;
    this.maxRetries = opts.failedRetriesPerSha ?? 2;
  }

  async sweep({ dryRun = false }: { dryRun?: boolean } = {}): Promise<SweepResult> {
    const observed = await this.observe();
    const plan = planSweep(observed);
    const dispatched: string[] = [];
    const errors: string[] = [];
    if (!dryRun) await this.reconcileSeats(observed, errors);
    if (!dryRun) await this.act(plan, dispatched, errors);
    const result: SweepResult = { dryRun, plan, dispatched, errors, text: "" };
    result.text = sweepReportText(result);
    this.log.info(
      { deploy: plan.deploy.length, destroy: plan.destroy.length, errors: errors.length, dryRun },
      result.text.split("\n")[0],
    );
    return result;
  }

  /** Desired and actual, as planSweep wants them. */
  private async observe(): Promise<SweepInput> {
    // Desired first: if GitHub cannot be read, nothing is planned, so nothing is pruned.
    const desired = await this.opts.listOpenPulls().catch((err: unknown) => {
      throw new Error("sweeping previews: listing the open pull requests of enrolled repositories", { cause: err });
    });
    const namespaces = await this.opts.cluster.listNamespaces({ ...MANAGED_BY });
    const databases = this.opts.databases ? await this.opts.databases.list() : [];
    const roles = this.opts.databases ? await this.opts.databases.strayRoles() : [];
    const busy = this.opts.activeKeys ? await this.opts.activeKeys() : undefined;
    const withPreview = new Set(namespaces.map((n) => `${n.annotations[REPOSITORY_ANNOTATION]}#${n.labels[PR_LABEL]}`));
    const expired = new Set<string>();
    for (const p of desired.pulls) {
      const key = previewKey(p);
      if (!withPreview.has(key) && (await this.memory.has(`expired:${key}`, p.sha))) expired.add(`${key}@${p.sha}`);
    }
    return {
      open: desired.pulls,
      namespaces,
      databases,
      roles,
      now: this.now(),
      expired,
      ...(desired.enrolled ? { enrolled: desired.enrolled } : {}),
      ...(desired.held ? { held: desired.held } : {}),
      ...(busy ? { busy } : {}),
      ...(this.opts.protectedNamespaces ? { protectedNamespaces: this.opts.protectedNamespaces } : {}),
      ...(this.opts.headsUpMs ? { headsUpMs: this.opts.headsUpMs } : {}),
    };
  }

  /** Dispatch the plan: every item is attempted, failures are collected. */
  private async act(plan: SweepPlan, dispatched: string[], errors: string[]): Promise<void> {
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${describeError(err)}`);
        this.log.warn({ err }, `sweep: ${what} failed`);
      }
    };
    for (const d of plan.destroy) {
      await attempt(`destroying ${d.key}`, async () => {
        const why =
          d.reason === "expired"
            ? "expired (TTL)"
            : d.reason === "not enrolled"
              ? "repository not enrolled"
              : "pull request closed or unknown";
        await this.opts.submit({
          ...request(d, "destroy", why),
          ...(d.keepDatabases ? { keepDatabases: d.keepDatabases } : {}),
        });
        if (d.reason === "expired" && d.sha) await this.memory.claim(`expired:${d.key}`, d.sha);
        dispatched.push(`destroy ${d.key} (${d.reason})`);
      });
    }
    for (const d of plan.deploy) {
      await attempt(`deploying ${d.key}`, async () => {
        if (d.reason === "failed" && !(await this.claimRetry(d))) {
          plan.skipped.push({
            what: d.key,
            reason: `its deploy of ${d.sha.slice(0, 7)} failed and was retried ${this.maxRetries} time(s) already`,
          });
          return;
        }
        await this.opts.submit(request(d, "deploy", `${d.reason} preview`));
        dispatched.push(`deploy ${d.key} (${d.reason})`);
      });
    }
    for (const d of plan.sleep) {
      await attempt(`putting ${d.key} to sleep`, async () => {
        await this.opts.submit(request(d, "sleep", `idle since ${d.idleSince}`));
        dispatched.push(`sleep ${d.key} (idle since ${d.idleSince})`);
      });
    }
    for (const h of plan.headsUp) {
      await attempt(`warning ${h.key} of its expiry`, async () => {
        if (this.opts.onHeadsUp && (await this.memory.claim(`heads-up:${h.key}`, h.expiresAt)))
          await this.opts.onHeadsUp(h);
      });
    }
  }

  /** Every live preview holds a seat; seats of previews that are gone, and line places of closed PRs, are given up. */
  private async reconcileSeats(observed: SweepInput, errors: string[]): Promise<void> {
    if (!this.opts.reconcileSeats) return;
    const existing = observed.namespaces
      .filter((ns) => ns.labels[PR_LABEL] && ns.annotations[REPOSITORY_ANNOTATION])
      .map((ns) => ({
        key: `${ns.annotations[REPOSITORY_ANNOTATION]}#${ns.labels[PR_LABEL]}`,
        repo: ns.annotations[REPOSITORY_ANNOTATION]!.toLowerCase(),
        author: (ns.annotations[AUTHOR_ANNOTATION] ?? "").toLowerCase(),
      }));
    try {
      await this.opts.reconcileSeats(existing, observed.busy ?? new Set(), new Set(observed.open.map(previewKey)));
    } catch (err) {
      errors.push(`reconciling the fleet's seats: ${describeError(err)}`);
      this.log.warn({ err }, "sweep: reconciling the fleet's seats failed");
    }
  }

  private async claimRetry(d: DeployItem): Promise<boolean> {
    for (let n = 1; n <= this.maxRetries; n++)
      if (await this.memory.claim(`retry-failed:${d.key}`, `${d.sha}:${n}`)) return true;
    return false;
  }
}

export function createSweeper(opts: SweeperOptions): Sweeper {
  return new PreviewSweeper(opts);
}

function request(
  item: { owner: string; repo: string; number: number; installationId?: number },
  action: "deploy" | "destroy" | "sleep",
  why: string,
): Request {
  return {
    door: "sweeper",
    action,
    subject: {
      kind: "pull",
      owner: item.owner,
      repo: item.repo,
      number: item.number,
      ...(item.installationId !== undefined ? { installationId: item.installationId } : {}),
    },
    actor: `preview-bot sweeper (${why})`,
    args: {},
  };
}

/** "Sweep: 2 to deploy, 1 to remove" and one line per action, for Slack and the CLI. */
function sweepReportText(r: Pick<SweepResult, "dryRun" | "plan" | "errors">): string {
  const { plan } = r;
  const head = `${r.dryRun ? "Sweep (dry run)" : "Sweep"}: ${plan.deploy.length} to deploy, ${plan.destroy.length} to remove, ${plan.headsUp.length} expiring soon${r.errors.length ? `, ${r.errors.length} error(s)` : ""}`;
  const lines = [
    ...plan.deploy.map((d) => `• deploy ${d.key} @ ${d.sha.slice(0, 7)} (${d.reason})`),
    ...plan.destroy.map(
      (d) =>
        `• remove ${d.key}: ${[...d.namespaces.map((n) => `namespace ${n}`), ...d.databases.map((db) => `database ${db}`), ...d.roles.map((r) => `role ${r}`)].join(", ") || "nothing left"} (${d.reason})`,
    ),
    ...plan.headsUp.map((h) => `• ${h.key} expires at ${h.expiresAt}`),
    ...plan.sleep.map((d) => `• sleep ${d.key}: idle since ${d.idleSince}`),
    ...plan.skipped.map((s) => `• skipped ${s.what}: ${s.reason}`),
    ...r.errors.map((e) => `• error: ${e}`),
  ];
  return [head, ...lines.slice(0, 50), ...(lines.length > 50 ? [`… and ${lines.length - 50} more`] : [])].join("\n");
}

/**
 * Sweeps on a cron schedule, once per slot across replicas (the backups' ScheduleLock: PgScheduleLock with a database).
 */
export function createSweepScheduler(opts: {
  sweeper: Sweeper;
  lock: ScheduleLock;
  schedule?: string;
  logger: Logger;
  onResult?(result: SweepResult): Promise<void>;
}): SlotScheduler {
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
