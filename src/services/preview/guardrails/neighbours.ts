/**
 * A preview's pods may not outrank or out-place their neighbours (issue 21). Checked on every pod template before
 * anything is applied; each refusal names the object and says what the operator may allow:
 * - `priorityClassName` only from the operator's list (PREVIEW_PRIORITY_CLASSES, none by default: the cluster's
 *   default priority applies), and no `priority` of its own; a quota scoped to the system classes holds whoever
 *   creates the pod (quota.ts);
 * - tolerations only of the taints the operator allows (PREVIEW_ALLOWED_TOLERATIONS, and the node-condition taints):
 *   a toleration is what lets a pod onto a system, GPU or another team's tainted pool;
 * - node selection (nodeSelector, node affinity) only by the node labels the operator allows (the OS and
 *   architecture, and PREVIEW_ALLOWED_NODE_LABELS); `matchFields` (named nodes) never;
 * - pod (anti-)affinity only to pods of its own namespace.
 * Rewritten, with a note: an `emptyDir` without `sizeLimit` gets one (the default ephemeral-storage limit, or the
 * default memory limit for `medium: Memory`), so one volume cannot fill a node's disk.
 * And the render as a whole: at most `objectsPerKind` objects of one kind (the quota counts built-in kinds in the
 * cluster too; custom kinds only here).
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "../render/cluster-scoped.js";
import type { NeighbourPolicy } from "./settings.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(asRec).filter((x): x is Rec => x !== undefined) : []);
const allowedText = (list: readonly string[], setting: string): string =>
  `allowed: ${list.join(", ") || "none"}; the operator's ${setting}`;

/** A toleration in words: `key=value:Effect`, or what an empty key tolerates. */
function tolerationText(t: Rec): string {
  const key = typeof t.key === "string" ? t.key : "";
  const effect = typeof t.effect === "string" && t.effect ? `:${t.effect}` : "";
  if (!key) return `every taint${effect ? ` with effect ${effect.slice(1)}` : ""} (operator Exists, no key)`;
  const value = t.operator === "Exists" ? "" : `=${typeof t.value === "string" ? t.value : ""}`;
  return `${key}${value}${effect}`;
}

/** An allowed entry `key[=value][:Effect]` covers the toleration when it tolerates no more than the entry says. */
function tolerationAllowed(t: Rec, allowed: readonly string[]): boolean {
  const key = typeof t.key === "string" ? t.key : "";
  if (!key) return false;
  const exists = t.operator === "Exists";
  const effect = typeof t.effect === "string" ? t.effect : "";
  return allowed.some((entry) => {
    const [head = "", entryEffect] = entry.split(":");
    const [entryKey, entryValue] = head.split("=");
    if (entryKey !== key) return false;
    if (entryValue !== undefined && (exists || t.value !== entryValue)) return false;
    return entryEffect === undefined || effect === entryEffect;
  });
}

/** Node labels: `key` allows any use of the key, `key=value` only selecting that value. */
function labelAllowed(key: string, values: readonly string[] | undefined, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const [entryKey, entryValue] = entry.split("=");
    if (entryKey !== key) return false;
    return (
      entryValue === undefined || (values !== undefined && values.length > 0 && values.every((v) => v === entryValue))
    );
  });
}

function nodeSelection(what: string, pod: Rec, policy: NeighbourPolicy, problems: string[]): void {
  const refuse = (thing: string) =>
    problems.push(
      `${what}: ${thing} is refused (node selection would place the preview on nodes the operator keeps for others; ${allowedText(policy.nodeLabels, "PREVIEW_ALLOWED_NODE_LABELS")})`,
    );
  for (const [key, value] of Object.entries(asRec(pod.nodeSelector) ?? {}))
    if (!labelAllowed(key, [String(value)], policy.nodeLabels)) refuse(`nodeSelector ${key}=${String(value)}`);
  const node = asRec(asRec(pod.affinity)?.nodeAffinity);
  if (!node) return;
  const terms = [
    ...asList(asRec(node.requiredDuringSchedulingIgnoredDuringExecution)?.nodeSelectorTerms),
    ...asList(node.preferredDuringSchedulingIgnoredDuringExecution).map((p) => asRec(p.preference) ?? {}),
  ];
  for (const term of terms) {
    if (asList(term.matchFields).length > 0)
      problems.push(`${what}: node affinity matchFields is refused (it pins the pod to named nodes)`);
    for (const e of asList(term.matchExpressions)) {
      const key = String(e.key ?? "");
      const values = Array.isArray(e.values) ? e.values.map(String) : undefined;
      const operator = String(e.operator ?? "");
      if (!labelAllowed(key, operator === "In" ? values : undefined, policy.nodeLabels))
        refuse(`node affinity on ${key} (${operator}${values ? ` ${values.join(", ")}` : ""})`);
    }
  }
}

function podAffinity(what: string, pod: Rec, namespace: string | undefined, problems: string[]): void {
  const affinity = asRec(pod.affinity) ?? {};
  for (const field of ["podAffinity", "podAntiAffinity"] as const) {
    const spec = asRec(affinity[field]);
    if (!spec) continue;
    const terms = [
      ...asList(spec.requiredDuringSchedulingIgnoredDuringExecution),
      ...asList(spec.preferredDuringSchedulingIgnoredDuringExecution).map((p) => asRec(p.podAffinityTerm) ?? {}),
    ];
    for (const term of terms) {
      const others = (Array.isArray(term.namespaces) ? term.namespaces.map(String) : []).filter((n) => n !== namespace);
      if (term.namespaceSelector !== undefined && term.namespaceSelector !== null)
        problems.push(
          `${what}: ${field} namespaceSelector is refused (a preview is placed by its own pods only, not by other namespaces')`,
        );
      else if (others.length > 0)
        problems.push(
          `${what}: ${field} on pods of namespace ${others.join(", ")} is refused (a preview is placed by its own pods only)`,
        );
    }
  }
}

/** Give every emptyDir without a sizeLimit one; a rewrite line per volume. */
function emptyDirs(what: string, pod: Rec, policy: NeighbourPolicy, rewrites: string[]): void {
  for (const v of asList(pod.volumes)) {
    const dir = asRec(v.emptyDir);
    if (!dir || dir.sizeLimit !== undefined) continue;
    const memory = dir.medium === "Memory";
    dir.sizeLimit = memory ? policy.emptyDir.memory : policy.emptyDir.disk;
    rewrites.push(
      `${what}: emptyDir "${String(v.name ?? "?")}" had no sizeLimit: ${String(dir.sizeLimit)} (the default ${memory ? "memory" : "ephemeral-storage"} limit), so it cannot fill the node's ${memory ? "memory" : "disk"}`,
    );
  }
}

/** The placement rules for one object's pod spec (in place for the emptyDir rewrite). */
export function neighbourRules(
  obj: KubeObject,
  pod: Rec,
  policy: NeighbourPolicy,
  problems: string[],
  rewrites: string[],
): void {
  const what = describeObject(obj);
  const cls = pod.priorityClassName;
  if (typeof cls === "string" && cls !== "" && !policy.priorityClasses.includes(cls))
    problems.push(
      `${what}: priorityClassName "${cls}" is refused (a preview runs at the cluster's default priority, so it cannot preempt its neighbours; ${allowedText(policy.priorityClasses, "PREVIEW_PRIORITY_CLASSES")})`,
    );
  if (pod.priority !== undefined)
    problems.push(`${what}: priority ${String(pod.priority)} is refused (the cluster sets it from the priority class)`);
  for (const t of asList(pod.tolerations))
    if (!tolerationAllowed(t, policy.tolerations))
      problems.push(
        `${what}: toleration of ${tolerationText(t)} is refused (it would let the preview onto tainted nodes: system, GPU or other teams' pools; ${allowedText(policy.tolerations, "PREVIEW_ALLOWED_TOLERATIONS")})`,
      );
  nodeSelection(what, pod, policy, problems);
  podAffinity(what, pod, obj.metadata.namespace, problems);
  emptyDirs(what, pod, policy, rewrites);
}

/** Kinds in words, for the count refusal: `ConfigMap` → `ConfigMaps`. */
const plural = (kind: string): string =>
  /(s|x|ch|sh)$/.test(kind) ? `${kind}es` : kind.endsWith("y") ? `${kind.slice(0, -1)}ies` : `${kind}s`;

/** At most `objectsPerKind` objects of one kind (apiVersion group and kind). */
export function countProblems(objects: readonly KubeObject[], policy: NeighbourPolicy): string[] {
  const counts = new Map<string, { kind: string; n: number }>();
  for (const o of objects) {
    const key = `${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}`;
    const c = counts.get(key) ?? { kind: o.kind, n: 0 };
    c.n += 1;
    counts.set(key, c);
  }
  return [...counts.values()]
    .filter((c) => c.n > policy.objectsPerKind)
    .map(
      (c) =>
        `${c.n} ${plural(c.kind)} in the render, over the bound of ${policy.objectsPerKind} objects of one kind for a preview (the cluster's etcd is shared; the operator's PREVIEW_QUOTA_OBJECTS)`,
    );
}
