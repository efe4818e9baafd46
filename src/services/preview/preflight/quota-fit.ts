/**
 * Will the preview fit its quotas? Evaluated offline, on the objects the namespace will hold after the deploy (the
 * bot's guardrails, the PR's objects, the database Secret), with every ResourceQuota and LimitRange among them read
 * from those objects (never a number of its own), because the server's dry run cannot answer it: a Deployment's
 * dry run creates no pods, so nothing of its pods' CPU, memory or count is ever checked, and each dry-run request is
 * checked alone against current usage, never added to the others (kube-apiserver v1.37's quota admission skips the
 * usage update for dry runs). Counted here:
 * - every workload's pods (pod-resources.ts: requests and limits with LimitRange defaults) × its replicas, the larger
 *   of `spec.replicas` and an HPA's `minReplicas`; a Job's parallelism; a CronJob's one job while it runs;
 * - `pods`, `count/<resource>[.<group>]` and the legacy counts (services, secrets, configmaps, persistentvolumeclaims,
 *   replicationcontrollers, resourcequotas), including what the cluster and the controllers add (the ConfigMap
 *   kube-root-ca.crt, the ServiceAccount default, a ReplicaSet per Deployment, a StatefulSet's volume claims);
 * - `requests.storage` (and per storage class) of PersistentVolumeClaims and volumeClaimTemplates;
 * - `services.loadbalancers` and `services.nodeports`;
 * - pods a quota tracks `requests.cpu`/`limits.memory`/… of but that set none (the quota refuses those pods).
 * Scoped quotas (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass) count only the pods in scope;
 * a quota with another scope is skipped with a note. A Deployment that fits but could not roll out a new version
 * (maxSurge pods over the quota while maxUnavailable is 0) is a warning: every push changes its image.
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "../render/cluster-scoped.js";
import { formatAmount, milli } from "./pod-resources.js";
import { POD_TRACKED, usageOf, type Contribution } from "./quota-usage.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

export interface FitInput {
  /** Everything the namespace will hold after the deploy: the bot's guardrails, the PR's objects, the database Secret. */
  objects: readonly KubeObject[];
  /** Names an object in messages (kind, name and where it came from). */
  describe?: (obj: KubeObject) => string;
  /** Who can raise `key` of this quota, as an instruction ("ask preview-bot's operator to raise PREVIEW_QUOTA_CPU"). */
  raise(quota: KubeObject, key: string): string;
}

export interface FitResult {
  /** Quotas the preview does not fit, and pods the LimitRanges or quotas would refuse: the deploy cannot succeed. */
  problems: string[];
  /** It fits, but something will bite later (a roll-out with no room to surge). */
  warnings: string[];
  /** Per quota, "requests.cpu 2.5 CPU of 4 CPU", for the check run. */
  usage: string[];
  notes: string[];
}

interface Scope {
  scope: string;
  operator: string;
  values: string[];
}
const KNOWN_SCOPES = new Set(["BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "PriorityClass"]);

function scopesOf(quota: KubeObject): Scope[] {
  const spec = asRec(quota.spec) ?? {};
  const exprs = asRec(spec.scopeSelector)?.matchExpressions;
  return [
    ...(Array.isArray(spec.scopes)
      ? spec.scopes.map((s) => ({ scope: String(s), operator: "Exists", values: [] }))
      : []),
    ...(Array.isArray(exprs)
      ? exprs.map((e) => ({
          scope: String(asRec(e)?.scopeName),
          operator: String(asRec(e)?.operator),
          values: Array.isArray(asRec(e)?.values) ? (asRec(e)!.values as unknown[]).map(String) : [],
        }))
      : []),
  ];
}

/** Whether a quota with these scopes counts this contribution (a scoped quota counts pods only). */
function inScope(scopes: readonly Scope[], pod: Contribution["pod"]): boolean {
  if (scopes.length === 0) return true;
  if (!pod) return false;
  const bestEffort = pod.res.requests.size === 0 && pod.res.limits.size === 0;
  const terminating = typeof pod.spec.activeDeadlineSeconds === "number";
  const priority = typeof pod.spec.priorityClassName === "string" ? pod.spec.priorityClassName : "";
  return scopes.every((s) => {
    switch (s.scope) {
      case "BestEffort":
        return bestEffort;
      case "NotBestEffort":
        return !bestEffort;
      case "Terminating":
        return terminating;
      case "NotTerminating":
        return !terminating;
      default: // PriorityClass
        return s.operator === "In"
          ? s.values.includes(priority)
          : s.operator === "NotIn"
            ? !s.values.includes(priority)
            : s.operator === "Exists"
              ? priority !== ""
              : priority === "";
    }
  });
}

const plural = (n: number, kind: string): string => `${n} ${kind}${n === 1 ? "" : kind.endsWith("s") ? "es" : "s"}`;

function what(key: string): string {
  if (key === "pods" || key === "count/pods") return "fewer replicas";
  if (key.endsWith("requests.storage")) return "smaller volume claims";
  if (key.startsWith("limits.")) return `lower resources.${key}`;
  if (key.startsWith("requests.") || POD_TRACKED.test(key))
    return `lower resources.requests.${key.replace(/^requests\./, "")}`;
  return "fewer of these objects";
}

/** Check the preview against every ResourceQuota among `input.objects`. */
export function fitQuotas(input: FitInput): FitResult {
  const describe = input.describe ?? describeObject;
  const problems: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const usage: string[] = [];
  const { work, steady, surge } = usageOf(input.objects, describe, problems);
  for (const quota of input.objects.filter((o) => o.kind === "ResourceQuota")) {
    const name = quota.metadata.name ?? "?";
    const hard = Object.entries(asRec(asRec(quota.spec)?.hard) ?? {});
    const scopes = scopesOf(quota);
    const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s.scope)).map((s) => s.scope);
    if (unknown.length > 0) {
      notes.push(
        `ResourceQuota "${name}" has scope ${unknown.join(", ")}, which preview-bot does not evaluate offline; the cluster checks it`,
      );
      continue;
    }
    const shown: string[] = [];
    for (const [key, limitText] of hard) {
      let limit: number;
      try {
        limit = milli(String(limitText));
      } catch {
        continue; // the server refuses the quota itself
      }
      const scoped = (list: Contribution[] | undefined) => (list ?? []).filter((c) => inScope(scopes, c.pod));
      const parts = scoped(steady.get(key));
      const used = parts.reduce((s, c) => s + c.count * c.each, 0);
      if (parts.length > 0) shown.push(`${key} ${formatAmount(key, used)} of ${formatAmount(key, limit)}`);
      if (POD_TRACKED.test(key)) {
        const resource = key.replace(/^(requests|limits)\./, "");
        const field = key.startsWith("limits.") ? "limits" : "requests";
        for (const w of work.filter((w) => inScope(scopes, { spec: w.spec, res: w.res })))
          for (const c of w.res.podLevel.has(`${field}.${resource}`)
            ? []
            : w.res.containers.filter((c) => !c[field].has(resource)))
            problems.push(
              `${describe(w.obj)}: container "${c.name}" sets no resources.${field}.${resource} and no LimitRange gives a default; ResourceQuota "${name}" tracks ${key}, so its pods would be refused: set resources.${field}.${resource}`,
            );
      }
      if (used > limit) {
        const byKind = new Map<string, number>();
        for (const c of parts) byKind.set(c.who.kind, (byKind.get(c.who.kind) ?? 0) + 1);
        const kinds = [...byKind].map(([kind, n]) => plural(n, kind));
        const who = kinds.length > 1 ? `${kinds.slice(0, -1).join(", ")} and ${kinds.at(-1)!}` : kinds[0]!;
        const asks = parts.length === 1 ? "asks" : "ask";
        const list = [...parts]
          .sort((a, b) => b.count * b.each - a.count * a.each)
          .slice(0, 8)
          .map(
            (c) =>
              `${describe(c.who)} ${c.count} × ${formatAmount(key, c.each)}${c.defaulted ? " (a LimitRange default)" : ""}`,
          );
        problems.push(
          `${who} ${asks} ${formatAmount(key, used)} of ${key}; ResourceQuota "${name}" allows ${formatAmount(key, limit)}: ${list.join(", ")}${parts.length > 8 ? ", …" : ""}. Set ${what(key)}, or ${input.raise(quota, key)}`,
        );
        continue;
      }
      const extra = scoped(surge.get(key));
      const peak = used + extra.reduce((s, c) => s + c.count * c.each, 0);
      if (peak > limit)
        warnings.push(
          `fits ResourceQuota "${name}" (${key} ${formatAmount(key, used)} of ${formatAmount(key, limit)}), but rolling out a new version needs ${formatAmount(key, peak)}: ${extra.map((c) => describe(c.who)).join(", ")} surge${extra.length === 1 ? "s" : ""} before an old pod stops (maxUnavailable is 0: set so, or the default 25% rounded down), so a later push would wait on the quota; set strategy.rollingUpdate.maxSurge: 0 and maxUnavailable: 1 (or strategy.type: Recreate), or ${input.raise(quota, key)}`,
        );
    }
    if (shown.length) usage.push(`ResourceQuota "${name}": ${shown.join(", ")}`);
  }
  return { problems: [...new Set(problems)], warnings, usage, notes };
}
