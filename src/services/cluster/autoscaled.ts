/**
 * Workloads whose replica count belongs to an autoscaler in the same render: a HorizontalPodAutoscaler's
 * `scaleTargetRef`, or a KEDA ScaledObject's (which makes an HPA). The bot must not apply `spec.replicas` for them —
 * with force it would take the field back from the HPA on every deploy and fight it (kubernetes.io: "remove
 * spec.replicas from the manifests" when an HPA manages a workload).
 */
import type { KubeObject } from "../shared/preview.js";

const groupOf = (apiVersion: string): string =>
  apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";

/** `namespace/group/Kind/name` of a workload. */
export const workloadKey = (namespace: string | undefined, apiVersion: string, kind: string, name: string): string =>
  `${namespace ?? ""}/${groupOf(apiVersion)}/${kind}/${name}`;

export function autoscaledWorkloads(objects: readonly KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    const isHpa = o.kind === "HorizontalPodAutoscaler" && groupOf(o.apiVersion) === "autoscaling";
    const isKeda = o.kind === "ScaledObject" && groupOf(o.apiVersion) === "keda.sh";
    if (!isHpa && !isKeda) continue;
    const ref = (o.spec as { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } } | undefined)
      ?.scaleTargetRef;
    if (!ref?.name) continue;
    out.add(workloadKey(o.metadata.namespace, ref.apiVersion ?? "apps/v1", ref.kind ?? "Deployment", ref.name));
  }
  return out;
}
