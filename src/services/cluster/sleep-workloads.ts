/**
 * The workloads' side of sleep (the routes' side is sleep-routes.ts), each change a server-side apply under the sleep
 * field manager that records, on the object itself, what it replaced:
 *
 * - Deployments and StatefulSets: `spec.replicas` → 0, the old count in SLEEP_REPLICAS_ANNOTATION.
 * - HorizontalPodAutoscalers: an HPA stops adjusting a target scaled to 0 as long as its `minReplicas` is not 0
 *   (kubernetes.io, "Implicit maintenance-mode deactivation"; the controller's ScalingActive=False/ScalingDisabled),
 *   so an HPA with `minReplicas` ≥ 1 is left untouched — nothing to fight over — and the workload's recorded replicas
 *   are the HPA's last decision. Only one with `minReplicas: 0` (HPAScaleToZero), which would bring the workload
 *   back on its metric, is raised to 1 first (the 0 recorded in SLEEP_MIN_REPLICAS_ANNOTATION).
 * - CronJobs: `spec.suspend` → true (SLEEP_SUSPENDED_ANNOTATION); one suspended before is left alone.
 *
 * A restore puts back only what the sleep still holds: a deploy since then took the field back (its apply is forced)
 * and its value stands; the record is dropped either way.
 */
import {
  SLEEP_MIN_REPLICAS_ANNOTATION,
  SLEEP_REPLICAS_ANNOTATION,
  SLEEP_SUSPENDED_ANNOTATION,
  type WorkloadRequests,
} from "../shared/sleep.js";
import { kubeError } from "./kube-errors.js";
import { at, describeLive, type Live, type SleepObjects } from "./sleep-support.js";

const WORKLOAD_KINDS = ["Deployment", "StatefulSet"] as const;
const HPA = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" };
const CRONJOB = { apiVersion: "batch/v1", kind: "CronJob" };

const annotation = (o: Live, key: string): string | undefined => o.metadata?.annotations?.[key];
const replicasOf = (o: Live): number => {
  const r = at(o, "spec", "replicas");
  return typeof r === "number" ? r : 1;
};

async function workloads(o: SleepObjects, namespace: string): Promise<Live[]> {
  return (await Promise.all(WORKLOAD_KINDS.map((kind) => o.list("apps/v1", kind, namespace)))).flat();
}

/** Each: the doing, then the write; errors say which object. */
async function each(items: Live[], doing: string, write: (o: Live) => Promise<boolean>): Promise<string[]> {
  const done: string[] = [];
  await Promise.all(
    items.map(async (item) => {
      try {
        if (await write(item)) done.push(describeLive(item));
      } catch (err) {
        throw kubeError(`${doing} ${describeLive(item)}`, err);
      }
    }),
  );
  return done.sort();
}

export async function sleepWorkloads(
  o: SleepObjects,
  namespace: string,
): Promise<{ workloads: string[]; autoscalers: string[]; cronJobs: string[] }> {
  // HPAs first: one allowed to scale to zero must be off before its target reaches 0.
  const autoscalers = await each(await o.list(HPA.apiVersion, HPA.kind, namespace), "keeping off", async (hpa) => {
    const recorded = annotation(hpa, SLEEP_MIN_REPLICAS_ANNOTATION);
    const held =
      recorded !== undefined && o.holds(hpa, ["spec", "minReplicas"], () => at(hpa, "spec", "minReplicas") === 1);
    if (held || at(hpa, "spec", "minReplicas") !== 0) return false;
    await o.apply(hpa, { annotations: { [SLEEP_MIN_REPLICAS_ANNOTATION]: "0" }, spec: { minReplicas: 1 } });
    return true;
  });
  const scaled = await each(await workloads(o, namespace), "scaling to 0", async (w) => {
    const recorded = annotation(w, SLEEP_REPLICAS_ANNOTATION);
    // Already asleep (a sleep that was interrupted and runs again): keep the first record, never record the 0.
    if (recorded !== undefined && o.holds(w, ["spec", "replicas"], () => replicasOf(w) === 0)) return true;
    await o.apply(w, { annotations: { [SLEEP_REPLICAS_ANNOTATION]: String(replicasOf(w)) }, spec: { replicas: 0 } });
    return true;
  });
  const cronJobs = await each(await o.list(CRONJOB.apiVersion, CRONJOB.kind, namespace), "suspending", async (c) => {
    const recorded = annotation(c, SLEEP_SUSPENDED_ANNOTATION) === "true";
    if (recorded && o.holds(c, ["spec", "suspend"], () => at(c, "spec", "suspend") === true)) return true;
    if (at(c, "spec", "suspend") === true) return false; // suspended by its own manifest or a person: theirs
    await o.apply(c, { annotations: { [SLEEP_SUSPENDED_ANNOTATION]: "true" }, spec: { suspend: true } });
    return true;
  });
  return { workloads: scaled, autoscalers, cronJobs };
}

export async function restoreWorkloads(
  o: SleepObjects,
  namespace: string,
): Promise<{ workloads: string[]; autoscalers: string[]; cronJobs: string[] }> {
  const restored = await each(await workloads(o, namespace), "restoring the replicas of", async (w) => {
    const recorded = annotation(w, SLEEP_REPLICAS_ANNOTATION);
    if (recorded === undefined) return false;
    const replicas = Number(recorded);
    const valid = Number.isSafeInteger(replicas) && replicas >= 0;
    const held = o.holds(w, ["spec", "replicas"], () => replicasOf(w) === 0);
    // Still asleep: the recorded count comes back. Taken back by a deploy since: its value stands, the record goes.
    await o.apply(w, held && valid ? { spec: { replicas } } : {});
    return held && valid;
  });
  // After their targets: an HPA back at minReplicas 0 finds them running.
  const autoscalers = await each(await o.list(HPA.apiVersion, HPA.kind, namespace), "restoring", async (hpa) => {
    const recorded = annotation(hpa, SLEEP_MIN_REPLICAS_ANNOTATION);
    if (recorded === undefined) return false;
    const held = o.holds(hpa, ["spec", "minReplicas"], () => at(hpa, "spec", "minReplicas") === 1);
    await o.apply(hpa, held ? { spec: { minReplicas: Number(recorded) || 0 } } : {});
    return held;
  });
  const cronJobs = await each(await o.list(CRONJOB.apiVersion, CRONJOB.kind, namespace), "resuming", async (c) => {
    if (annotation(c, SLEEP_SUSPENDED_ANNOTATION) !== "true") return false;
    const held = o.holds(c, ["spec", "suspend"], () => at(c, "spec", "suspend") === true);
    await o.apply(c, held ? { spec: { suspend: false } } : {});
    return held;
  });
  return { workloads: restored, autoscalers, cronJobs };
}

/** What each Deployment/StatefulSet requests when awake (asleep: the recorded replicas). */
export async function workloadRequests(o: SleepObjects, namespace: string): Promise<WorkloadRequests[]> {
  return (await workloads(o, namespace)).map((w) => {
    const recorded = Number(annotation(w, SLEEP_REPLICAS_ANNOTATION));
    const asleep = replicasOf(w) === 0 && Number.isSafeInteger(recorded) && recorded >= 0;
    const containers = at(w, "spec", "template", "spec", "containers");
    return {
      workload: describeLive(w),
      replicas: asleep ? recorded : replicasOf(w),
      containers: (Array.isArray(containers) ? containers : []).map((c) => {
        const requests = at(c, "resources", "requests") as Record<string, unknown> | undefined;
        const q = (k: string) => (typeof requests?.[k] === "string" ? requests[k] : undefined);
        return { ...(q("cpu") ? { cpu: q("cpu")! } : {}), ...(q("memory") ? { memory: q("memory")! } : {}) };
      }),
    };
  });
}
