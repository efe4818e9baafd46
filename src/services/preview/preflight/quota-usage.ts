/**
 * What a preview's namespace will hold, as ResourceQuota counts it (quota-fit.ts compares it with each quota): per
 * quota key (`requests.cpu`, `pods`, `count/configmaps`, `requests.storage`, …) the objects that use it, how many
 * times and how much each. Workloads' pods come from pod-resources.ts (LimitRange defaults applied) × replicas.
 */
import type { KubeObject } from "../../shared/preview.js";
import { podSpecOf } from "../render/images.js";
import { groupOfApiVersion, guessResource, knownKind } from "./kinds.js";
import { containerLimits, milli, podResources, type PodResources } from "./pod-resources.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

export interface Contribution {
  who: KubeObject;
  count: number;
  each: number;
  /** The value is (partly) a LimitRange default. */
  defaulted?: boolean;
  /** The pod, for scoped quotas; undefined for objects that are not pods. */
  pod?: { spec: Rec; res: PodResources };
}

export interface Workload {
  obj: KubeObject;
  spec: Rec;
  res: PodResources;
  replicas: number;
  /** Extra pods while a new version rolls out, and whether the roll-out stalls without room for them. */
  surge: number;
  stallsWhenFull: boolean;
}

export const POD_TRACKED = /^(requests\.|limits\.)?(cpu|memory|ephemeral-storage)$/;
const LEGACY_COUNTS: Record<string, string> = {
  pods: "pods",
  services: "services",
  secrets: "secrets",
  configmaps: "configmaps",
  persistentvolumeclaims: "persistentvolumeclaims",
  replicationcontrollers: "replicationcontrollers",
  resourcequotas: "resourcequotas",
};

const intOrPercent = (v: unknown, of: number, round: (x: number) => number, fallback: string): number => {
  const text = v === undefined ? fallback : String(v);
  return text.endsWith("%") ? round((Number(text.slice(0, -1)) / 100) * of) : Number(text) || 0;
};

function replicasOf(obj: KubeObject, hpas: readonly KubeObject[]): number {
  const spec = asRec(obj.spec) ?? {};
  if (obj.kind === "Job") {
    const parallelism = typeof spec.parallelism === "number" ? spec.parallelism : 1;
    return typeof spec.completions === "number" ? Math.min(parallelism, spec.completions) : parallelism;
  }
  if (obj.kind === "CronJob") {
    const job = asRec(asRec(spec.jobTemplate)?.spec) ?? {};
    return typeof job.parallelism === "number" ? job.parallelism : 1;
  }
  if (obj.kind === "Pod") return 1;
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
  const hpa = hpas.find((h) => {
    const target = asRec(asRec(h.spec)?.scaleTargetRef);
    return target?.kind === obj.kind && target.name === obj.metadata.name;
  });
  const min = asRec(hpa?.spec)?.minReplicas;
  return hpa ? Math.max(replicas, typeof min === "number" ? min : 1) : replicas;
}

function workloads(
  objects: readonly KubeObject[],
  describe: (o: KubeObject) => string,
  problems: string[],
): Workload[] {
  const rangeProblems: string[] = [];
  const ranges = containerLimits(
    objects.filter((o) => o.kind === "LimitRange").map((o) => ({ name: o.metadata.name ?? "?", spec: o.spec })),
    rangeProblems,
  );
  problems.push(...rangeProblems);
  const hpas = objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
  return objects.flatMap((obj): Workload[] => {
    const spec = podSpecOf(obj);
    if (!spec) return [];
    const res = podResources(spec, ranges, describe(obj));
    problems.push(...res.problems);
    const replicas = replicasOf(obj, hpas);
    const strategy = asRec(asRec(obj.spec)?.strategy);
    const rolling = obj.kind === "Deployment" && strategy?.type !== "Recreate";
    const update = asRec(strategy?.rollingUpdate);
    const surge = rolling ? intOrPercent(update?.maxSurge, replicas, Math.ceil, "25%") : 0;
    const unavailable = rolling ? intOrPercent(update?.maxUnavailable, replicas, Math.floor, "25%") : 1;
    return [{ obj, spec, res, replicas, surge, stallsWhenFull: unavailable === 0 && surge > 0 }];
  });
}

/** Object counts: `count/…` and the legacy names, with what the cluster and the controllers add. */
function counts(objects: readonly KubeObject[], work: readonly Workload[]): Map<string, Contribution[]> {
  const out = new Map<string, Contribution[]>();
  const add = (key: string, c: Contribution): void => void out.set(key, [...(out.get(key) ?? []), c]);
  const countKeys = (apiVersion: string, kind: string): string[] => {
    const group = groupOfApiVersion(apiVersion);
    const resource = knownKind(apiVersion, kind)?.resource ?? guessResource(kind);
    const keys = [`count/${resource}${group ? `.${group}` : ""}`];
    if (!group && LEGACY_COUNTS[resource]) keys.push(LEGACY_COUNTS[resource]);
    return keys;
  };
  const implicit = (apiVersion: string, kind: string, name: string): KubeObject => ({
    apiVersion,
    kind,
    metadata: { name },
  });
  const all: Array<{ obj: KubeObject; count: number; who: KubeObject }> = [
    ...objects.map((obj) => ({ obj, count: 1, who: obj })),
    // Every namespace gets these from the cluster.
    {
      obj: implicit("v1", "ConfigMap", "kube-root-ca.crt"),
      count: 1,
      who: implicit("v1", "ConfigMap", "kube-root-ca.crt"),
    },
    { obj: implicit("v1", "ServiceAccount", "default"), count: 1, who: implicit("v1", "ServiceAccount", "default") },
  ];
  // (Pods are counted with their resources, podKeys: a scoped quota counts only the pods in its scope.)
  for (const w of work) {
    if (w.obj.kind === "Deployment") all.push({ obj: implicit("apps/v1", "ReplicaSet", ""), count: 1, who: w.obj });
    if (w.obj.kind === "CronJob") all.push({ obj: implicit("batch/v1", "Job", ""), count: 1, who: w.obj });
  }
  for (const { obj, count, who } of all) {
    for (const key of countKeys(obj.apiVersion, obj.kind)) add(key, { who, count, each: 1000 });
    const type = asRec(obj.spec)?.type;
    if (obj.kind === "Service" && type === "LoadBalancer") add("services.loadbalancers", { who, count, each: 1000 });
    if (obj.kind === "Service" && (type === "NodePort" || type === "LoadBalancer"))
      add("services.nodeports", { who, count, each: 1000 });
  }
  return out;
}

/** Storage of claims: the PR's PersistentVolumeClaims and each StatefulSet's volumeClaimTemplates × replicas. */
function storage(objects: readonly KubeObject[], work: readonly Workload[], out: Map<string, Contribution[]>): void {
  const add = (key: string, c: Contribution): void => void out.set(key, [...(out.get(key) ?? []), c]);
  const claim = (spec: Rec | undefined, who: KubeObject, count: number): void => {
    const size = asRec(asRec(spec?.resources)?.requests)?.storage;
    let each: number;
    try {
      each = size === undefined ? 0 : milli(String(size));
    } catch {
      return; // the server refuses the claim itself (its schema), and says so in the dry run
    }
    const cls = typeof spec?.storageClassName === "string" ? spec.storageClassName : undefined;
    add("requests.storage", { who, count, each });
    if (cls) add(`${cls}.storageclass.storage.k8s.io/requests.storage`, { who, count, each });
    if (cls) add(`${cls}.storageclass.storage.k8s.io/persistentvolumeclaims`, { who, count, each: 1000 });
    if (who.kind === "StatefulSet") {
      add("persistentvolumeclaims", { who, count, each: 1000 });
      add("count/persistentvolumeclaims", { who, count, each: 1000 });
    }
  };
  for (const o of objects) if (o.kind === "PersistentVolumeClaim") claim(asRec(o.spec), o, 1);
  for (const w of work)
    if (w.obj.kind === "StatefulSet")
      for (const t of Array.isArray(asRec(w.obj.spec)?.volumeClaimTemplates)
        ? (asRec(w.obj.spec)!.volumeClaimTemplates as unknown[])
        : [])
        claim(asRec(asRec(t)?.spec), w.obj, w.replicas);
}

/** Pods' requests and limits under every key a quota may name for them. */
function podKeys(work: readonly Workload[], out: Map<string, Contribution[]>, surge: boolean): void {
  const add = (key: string, c: Contribution): void => void out.set(key, [...(out.get(key) ?? []), c]);
  for (const w of work) {
    const count = surge ? w.surge : w.replicas;
    if (count === 0) continue;
    const pod = { spec: w.spec, res: w.res };
    const defaulted = (key: string) => !w.res.podLevel.has(key) && w.res.containers.some((c) => c.defaulted.has(key));
    for (const [r, each] of w.res.requests) {
      add(`requests.${r}`, { who: w.obj, count, each, defaulted: defaulted(`requests.${r}`), pod });
      if (POD_TRACKED.test(r)) add(r, { who: w.obj, count, each, defaulted: defaulted(`requests.${r}`), pod });
    }
    for (const [r, each] of w.res.limits)
      add(`limits.${r}`, { who: w.obj, count, each, defaulted: defaulted(`limits.${r}`), pod });
    add("pods", { who: w.obj, count, each: 1000, pod });
    add("count/pods", { who: w.obj, count, each: 1000, pod });
  }
}

/** What the namespace will hold, per quota key: at steady state, and the extra pods of roll-outs that stall when full. */
export function usageOf(
  objects: readonly KubeObject[],
  describe: (o: KubeObject) => string,
  problems: string[],
): { work: Workload[]; steady: Map<string, Contribution[]>; surge: Map<string, Contribution[]> } {
  const work = workloads(objects, describe, problems);
  const steady = counts(objects, work);
  storage(objects, work, steady);
  podKeys(work, steady, false);
  const surge = new Map<string, Contribution[]>();
  podKeys(
    work.filter((w) => w.stallsWhenFull),
    surge,
    true,
  );
  return { work, steady, surge };
}
