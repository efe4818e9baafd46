/**
 * Rollout state of Deployments/StatefulSets and, for the unhealthy ones, a diagnosis a person can act on: pod phase
 * and container reasons, recent Warning events, the failing container's last log lines — all through redactText().
 */
import type { CoreV1Api, V1Deployment, V1LabelSelector, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { redactText } from "../../logger.js";
import { kubeMessage } from "./kube-errors.js";
import type { WorkloadHealth } from "../shared/preview.js";

export type Workload = { kind: "Deployment"; object: V1Deployment } | { kind: "StatefulSet"; object: V1StatefulSet };

const MAX_PODS = 3;
const MAX_EVENTS = 5;
const LOG_LINES = 20;
/** At most this much of a failing pod's log tail is fetched (the API server cuts it: `limitBytes`). */
const LOG_BYTES = 16 * 1024;

function desiredReplicas(w: Workload): number {
  return w.object.spec?.replicas ?? 1;
}

/** observedGeneration ≥ generation, and updated == ready == desired replicas (and no old ones left). */
export function isRolledOut(w: Workload): boolean {
  const s = w.object.status;
  const desired = desiredReplicas(w);
  if (!s || (s.observedGeneration ?? 0) < (w.object.metadata?.generation ?? 1)) return false;
  return (s.updatedReplicas ?? 0) === desired && (s.readyReplicas ?? 0) === desired && (s.replicas ?? 0) === desired;
}

/** `a=b,c in (d,e),!f` from a LabelSelector. */
export function selectorString(sel: V1LabelSelector | undefined): string {
  const parts = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${values})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

/** The first reason a pod's containers give for not running (waiting or terminated), e.g. "ImagePullBackOff". */
function podReason(pod: V1Pod): string | undefined {
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const r = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    if (r && r !== "Completed") return r;
  }
  return undefined;
}

async function podLogTail(core: CoreV1Api, pod: V1Pod): Promise<string | undefined> {
  const statuses = pod.status?.containerStatuses ?? [];
  const failing = statuses.find((c) => !c.ready) ?? statuses[0];
  if (!failing || !pod.metadata?.name || !pod.metadata.namespace) return undefined;
  const base = {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace,
    container: failing.name,
    tailLines: LOG_LINES,
    // The pod's output is the PR's: fetched with a byte cap, so a 10 MB line cannot reach the bot (or its redaction).
    limitBytes: LOG_BYTES,
  };
  try {
    // A crash-looping container's useful output is in its previous run.
    const previous = failing.restartCount > 0 && failing.lastState?.terminated !== undefined;
    const text = previous
      ? await core.readNamespacedPodLog({ ...base, previous: true }).catch(() => core.readNamespacedPodLog(base))
      : await core.readNamespacedPodLog(base);
    return `  log (${failing.name}, last ${LOG_LINES} lines):\n${String(text)
      .slice(0, LOG_BYTES)
      .trimEnd()
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n")}`;
  } catch (err) {
    return `  log (${failing.name}) unavailable: ${kubeMessage(err)}`;
  }
}

interface WarningEvent {
  reason: string;
  message: string;
}

/** The object's recent Warning events, oldest first; `unavailable` says why when they could not be read. */
export async function warningEvents(
  core: CoreV1Api,
  namespace: string,
  kind: string,
  name: string,
): Promise<{ events: WarningEvent[]; unavailable?: string }> {
  try {
    const list = await core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
    });
    const events = list.items
      .filter((e) => e.type === "Warning")
      .sort((a, b) =>
        String(a.lastTimestamp ?? a.eventTime ?? "").localeCompare(String(b.lastTimestamp ?? b.eventTime ?? "")),
      )
      .slice(-MAX_EVENTS)
      .map((e) => ({ reason: e.reason ?? "?", message: e.message ?? "" }));
    return { events };
  } catch (err) {
    return { events: [], unavailable: kubeMessage(err) };
  }
}

export function eventLines(r: { events: WarningEvent[]; unavailable?: string }): string[] {
  return r.unavailable !== undefined
    ? [`  events unavailable: ${r.unavailable}`]
    : r.events.map((e) => `  event ${e.reason}: ${e.message}`);
}

/**
 * Pods the workload's controller could not create, in the controller's words: a Deployment's `ReplicaFailure`
 * condition (copied from its ReplicaSet: quota exceeded, Pod Security refused, a missing ServiceAccount), or a
 * StatefulSet's `FailedCreate` event. Without this the wait only said "0/1 ready" until its timeout.
 */
function failedCreate(w: Workload, events: WarningEvent[]): string | undefined {
  const condition = (w.object.status?.conditions ?? []).find((c) => c.type === "ReplicaFailure" && c.status === "True");
  if (condition) return condition.message ?? condition.reason ?? "ReplicaFailure";
  return events.find((e) => e.reason === "FailedCreate")?.message;
}

/** Why a pending pod has no node: the scheduler's PodScheduled=False condition (e.g. Unschedulable: 0/3 nodes …). */
function notScheduled(pod: V1Pod): { reason: string; line: string } | undefined {
  if (pod.status?.phase !== "Pending") return undefined;
  const c = (pod.status.conditions ?? []).find((x) => x.type === "PodScheduled" && x.status === "False");
  return c
    ? {
        reason: c.reason ?? "Unschedulable",
        line: `  not scheduled: ${c.reason ?? ""}${c.message ? `: ${c.message}` : ""}`,
      }
    : undefined;
}

/** One pod, for a diagnosis: phase, why it is not scheduled, its containers' states, its Warning events, its log tail. */
export async function describePod(core: CoreV1Api, pod: V1Pod): Promise<{ reason?: string; lines: string[] }> {
  const lines: string[] = [];
  const podName = pod.metadata?.name ?? "";
  const namespace = pod.metadata?.namespace ?? "";
  const unscheduled = notScheduled(pod);
  const reason = podReason(pod) ?? unscheduled?.reason;
  lines.push(`pod ${podName}: ${pod.status?.phase ?? "Unknown"}`);
  if (unscheduled) lines.push(unscheduled.line);
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting;
    const terminated = c.state?.terminated;
    const last = c.lastState?.terminated;
    if (waiting)
      lines.push(
        `  container ${c.name}: waiting ${waiting.reason ?? ""}${waiting.message ? `: ${waiting.message}` : ""}`,
      );
    if (terminated)
      lines.push(`  container ${c.name}: terminated ${terminated.reason ?? ""} (exit ${terminated.exitCode})`);
    else if (last)
      lines.push(`  container ${c.name}: last run terminated ${last.reason ?? ""} (exit ${last.exitCode})`);
    if (c.restartCount > 0) lines.push(`  container ${c.name}: ${c.restartCount} restarts`);
  }
  lines.push(...eventLines(await warningEvents(core, namespace, "Pod", podName)));
  const log = await podLogTail(core, pod);
  if (log) lines.push(log);
  return { ...(reason ? { reason } : {}), lines };
}

/** Health of one workload; unhealthy ones get a redacted diagnosis built from their pods, events and logs. */
export async function workloadHealth(core: CoreV1Api, w: Workload): Promise<WorkloadHealth> {
  const name = w.object.metadata?.name ?? "";
  const namespace = w.object.metadata?.namespace ?? "";
  const desired = desiredReplicas(w);
  const ready = w.object.status?.readyReplicas ?? 0;
  if (isRolledOut(w)) return { kind: w.kind, name, ready: true, summary: `${ready}/${desired} ready` };

  const lines: string[] = [];
  let reason: string | undefined;
  if ((w.object.status?.observedGeneration ?? 0) < (w.object.metadata?.generation ?? 1))
    lines.push(`${w.kind} ${name}: new generation not yet observed by its controller`);
  const own = await warningEvents(core, namespace, w.kind, name);
  const refused = failedCreate(w, own.events);
  if (refused) {
    reason = "FailedCreate";
    lines.push(`${w.kind} ${name}: its pods cannot be created: ${refused}`);
  }
  lines.push(...eventLines(own));
  let pods: V1Pod[] = [];
  try {
    pods = (await core.listNamespacedPod({ namespace, labelSelector: selectorString(w.object.spec?.selector) })).items;
  } catch (err) {
    lines.push(`pods unavailable: ${kubeMessage(err)}`);
  }
  if (pods.length === 0 && !refused) lines.push("no pods found for its selector");
  const unhealthy = pods.filter(
    (p) => p.status?.phase !== "Running" || (p.status.containerStatuses ?? []).some((c) => !c.ready),
  );
  for (const pod of unhealthy.slice(0, MAX_PODS)) {
    const described = await describePod(core, pod);
    reason ??= described.reason;
    lines.push(...described.lines);
  }
  if (unhealthy.length > MAX_PODS) lines.push(`… and ${unhealthy.length - MAX_PODS} more unhealthy pods`);
  return {
    kind: w.kind,
    name,
    ready: false,
    summary: `${ready}/${desired} ready${reason ? `: ${reason}` : ""}`,
    diagnosis: redactText(lines.join("\n")),
  };
}
