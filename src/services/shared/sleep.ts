/**
 * Sleep and wake, as data: the annotations that record them (on the preview namespace, and on each object a sleep
 * changed, written by their own field manager), what a namespace's annotations say about its sleep (`readSleep`),
 * and the boundary that does the Kubernetes side (`SleepControl`, implemented in cluster/sleep.ts). The preview domain
 * (preview/sleep/) decides when and reports; docs/sleep.md walks through the whole of it.
 */

/** Namespace: how long the preview may go without activity before it sleeps (a duration, `2h`); absent: never. */
export const SLEEP_AFTER_ANNOTATION = "preview-bot.dev/sleep-after";
/** Namespace: the last activity (deploy, command, Slack button, a visitor's wake), ISO-8601. */
export const LAST_ACTIVITY_ANNOTATION = "preview-bot.dev/last-activity";
/** Namespace: asleep since (ISO-8601); absent while awake. Set before anything is scaled down. */
export const ASLEEP_SINCE_ANNOTATION = "preview-bot.dev/asleep-since";
/** Namespace: milliseconds spent asleep in earlier sleeps (the current one counts from ASLEEP_SINCE_ANNOTATION). */
export const ASLEEP_TOTAL_ANNOTATION = "preview-bot.dev/asleep-ms";
/** Namespace: the hosts the preview's routes serve (comma-separated), recorded when it fell asleep: the wake door. */
export const WAKE_HOSTS_ANNOTATION = "preview-bot.dev/wake-hosts";
/** Namespace: the GitHub App installation of the repository, so a visitor's wake needs nothing from GitHub. */
export const INSTALLATION_ANNOTATION = "preview-bot.dev/installation";

/** Deployment/StatefulSet: its `spec.replicas` when it was put to sleep (set by SLEEP_FIELD_MANAGER). */
export const SLEEP_REPLICAS_ANNOTATION = "preview-bot.dev/sleep-replicas";
/** HorizontalPodAutoscaler: its `spec.minReplicas` when sleep raised it from 0 to 1 (so it stays off while asleep). */
export const SLEEP_MIN_REPLICAS_ANNOTATION = "preview-bot.dev/sleep-min-replicas";
/** CronJob: `"true"` when sleep suspended it (one suspended before is left alone, and stays suspended). */
export const SLEEP_SUSPENDED_ANNOTATION = "preview-bot.dev/sleep-suspended";
/** HTTPRoute/Ingress: the backends sleep replaced, as JSON (restored as they were, rule by rule). */
export const SLEEP_BACKENDS_ANNOTATION = "preview-bot.dev/sleep-backends";

/**
 * The field manager of everything sleep and wake write to a preview's objects. Not `preview-bot` (the deploy's): a
 * partial apply under the deploy's manager would drop every field it leaves out. The deploy applies with force, so
 * the next deploy takes `spec.replicas`, `suspend`, backends back from this manager without a conflict.
 */
export const SLEEP_FIELD_MANAGER = "preview-bot-sleep";

/** The User-Agent of the bot's own health checks: the wake door never wakes a preview for them. */
export const HEALTH_CHECK_USER_AGENT = "preview-bot-health-check/1";

/** Namespace annotations the sleep writes that a deploy's namespace apply must keep (namespace-meta.ts). */
export const SLEEP_BOOKKEEPING = [ASLEEP_SINCE_ANNOTATION, ASLEEP_TOTAL_ANNOTATION, WAKE_HOSTS_ANNOTATION] as const;

/** What a namespace's annotations say about its sleep. */
export interface SleepFacts {
  /** Idle period after which it sleeps (ms); undefined: it never sleeps. */
  afterMs?: number;
  lastActivity?: number;
  asleepSince?: number;
  /** Time asleep before the current sleep (ms). */
  asleepTotalMs: number;
  /** Hosts recorded when it fell asleep. */
  hosts: string[];
  installationId?: number;
}

const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `2h`, `3d` → ms (the form SLEEP_AFTER_ANNOTATION is written in); anything else undefined. */
export function parseSleepDuration(text: string | undefined): number | undefined {
  const m = DURATION.exec(text?.trim() ?? "");
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** ms → the largest exact unit: 3_600_000 → `1h`, 5_400_000 → `90m`. */
export function formatSleepDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"]) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.max(0, Math.round(ms))}ms`;
}

const time = (iso: string | undefined): number | undefined => {
  const t = Date.parse(iso ?? "");
  return Number.isFinite(t) ? t : undefined;
};

export function readSleep(annotations: Record<string, string>): SleepFacts {
  const afterMs = parseSleepDuration(annotations[SLEEP_AFTER_ANNOTATION]);
  const lastActivity = time(annotations[LAST_ACTIVITY_ANNOTATION]);
  const asleepSince = time(annotations[ASLEEP_SINCE_ANNOTATION]);
  const total = Number(annotations[ASLEEP_TOTAL_ANNOTATION] ?? "0");
  const installation = Number(annotations[INSTALLATION_ANNOTATION]);
  return {
    ...(afterMs !== undefined && afterMs > 0 ? { afterMs } : {}),
    ...(lastActivity !== undefined ? { lastActivity } : {}),
    ...(asleepSince !== undefined ? { asleepSince } : {}),
    asleepTotalMs: Number.isFinite(total) && total > 0 ? total : 0,
    hosts: (annotations[WAKE_HOSTS_ANNOTATION] ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    ...(Number.isSafeInteger(installation) && installation > 0 ? { installationId: installation } : {}),
  };
}

/** Whether a preview counts as running for the fleet's caps: a sleeping one frees its slot. */
export function isAsleep(annotations: Record<string, string>): boolean {
  return readSleep(annotations).asleepSince !== undefined;
}

/** Share of the preview's life (since `createdAt`) spent asleep, 0…1, as of `now`. */
export function asleepShare(facts: SleepFacts, createdAt: number, now: number): number {
  const life = now - createdAt;
  if (!(life > 0)) return 0;
  const current = facts.asleepSince !== undefined ? Math.max(0, now - facts.asleepSince) : 0;
  return Math.min(1, Math.max(0, (facts.asleepTotalMs + current) / life));
}

/** What a sleep did to the namespace's objects (each list: `Kind "name"` descriptions). */
export interface SleepOutcome {
  /** Deployments and StatefulSets scaled to 0, with the replicas recorded. */
  workloads: string[];
  /** HPAs whose minReplicas had to be raised from 0 so they stay off. */
  autoscalers: string[];
  cronJobs: string[];
  routes: string[];
  /** The hosts the swapped routes serve. */
  hosts: string[];
}

/** What a wake (or a deploy of a sleeping preview) put back. */
export interface RestoreOutcome {
  workloads: string[];
  autoscalers: string[];
  cronJobs: string[];
  routes: string[];
}

/** Where sleeping routes point: the bot's own Service (its wake door), and how Ingresses reach it. */
export interface WakeBackend {
  namespace: string;
  name: string;
  port: number;
  /** The cluster's DNS domain, for the ExternalName Service an Ingress needs (`cluster.local`). */
  clusterDomain: string;
}

/** One workload's pod template requests, as written (quantities), and how many replicas it runs awake. */
export interface WorkloadRequests {
  workload: string;
  replicas: number;
  containers: Array<{ cpu?: string; memory?: string }>;
}

/**
 * The Kubernetes side of sleep and wake (cluster/sleep.ts). Every write is a server-side apply with
 * SLEEP_FIELD_MANAGER; every object a sleep changes records what it was, on itself, so a wake — by this process, by
 * another replica, after a restart — restores exactly that. Both are idempotent: a sleep never records over a record
 * (a second sleep of a half-asleep preview keeps the first replicas), a wake restores only what carries a record.
 */
export interface SleepControl {
  /** Scale every Deployment and StatefulSet to 0, keep HPAs off, suspend CronJobs, point routes at the wake door. */
  sleep(namespace: string): Promise<SleepOutcome>;
  /** Put back replicas, HPA minimums and CronJobs (not the routes: the wake waits for readiness first). */
  restoreWorkloads(namespace: string): Promise<Pick<RestoreOutcome, "workloads" | "autoscalers" | "cronJobs">>;
  /** Point the routes back at the preview's own backends and remove what the wake door needed. */
  restoreRoutes(namespace: string): Promise<Pick<RestoreOutcome, "routes">>;
  /** Remove what a sleep created outside the namespace (teardown: the namespace's deletion does not reach it). */
  forget(namespace: string): Promise<string[]>;
  /** What each Deployment and StatefulSet requests while awake (asleep: with its recorded replicas). */
  requests(namespace: string): Promise<WorkloadRequests[]>;
  /** Wait until every Deployment and StatefulSet is rolled out; false at the deadline or when aborted. */
  waitAwake(namespace: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
}
