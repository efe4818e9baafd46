/**
 * API versions of built-in kinds that Kubernetes has removed, with the version to use instead. preview-bot needs
 * Kubernetes ≥ 1.30, where none of these is served, so a manifest still written for one (stefanprodan/podinfo's
 * `autoscaling/v2beta2` HorizontalPodAutoscaler, an `extensions/v1beta1` Ingress) can never be applied: the offline
 * preflight refuses it at render with the apiVersion to write, and a deploy's dry-run refusal of it (404, the kind not
 * served) says the same instead of suggesting a missing CRD. Source: the Kubernetes deprecated API migration guide.
 */

interface Removal {
  /** The apiVersion to write instead. */
  use: string;
  /** The Kubernetes minor that stopped serving it. */
  removedIn: string;
}

const r = (use: string, removedIn: string): Removal => ({ use, removedIn });

const REMOVED: Readonly<Record<string, Removal>> = {
  "extensions/v1beta1 Deployment": r("apps/v1", "1.16"),
  "extensions/v1beta1 DaemonSet": r("apps/v1", "1.16"),
  "extensions/v1beta1 ReplicaSet": r("apps/v1", "1.16"),
  "extensions/v1beta1 NetworkPolicy": r("networking.k8s.io/v1", "1.16"),
  "apps/v1beta1 Deployment": r("apps/v1", "1.16"),
  "apps/v1beta1 StatefulSet": r("apps/v1", "1.16"),
  "apps/v1beta2 Deployment": r("apps/v1", "1.16"),
  "apps/v1beta2 StatefulSet": r("apps/v1", "1.16"),
  "apps/v1beta2 DaemonSet": r("apps/v1", "1.16"),
  "apps/v1beta2 ReplicaSet": r("apps/v1", "1.16"),
  "extensions/v1beta1 Ingress": r("networking.k8s.io/v1", "1.22"),
  "networking.k8s.io/v1beta1 Ingress": r("networking.k8s.io/v1", "1.22"),
  "networking.k8s.io/v1beta1 IngressClass": r("networking.k8s.io/v1", "1.22"),
  "rbac.authorization.k8s.io/v1beta1 Role": r("rbac.authorization.k8s.io/v1", "1.22"),
  "rbac.authorization.k8s.io/v1beta1 RoleBinding": r("rbac.authorization.k8s.io/v1", "1.22"),
  "scheduling.k8s.io/v1beta1 PriorityClass": r("scheduling.k8s.io/v1", "1.22"),
  "coordination.k8s.io/v1beta1 Lease": r("coordination.k8s.io/v1", "1.22"),
  "batch/v1beta1 CronJob": r("batch/v1", "1.25"),
  "discovery.k8s.io/v1beta1 EndpointSlice": r("discovery.k8s.io/v1", "1.25"),
  "events.k8s.io/v1beta1 Event": r("events.k8s.io/v1", "1.25"),
  "autoscaling/v2beta1 HorizontalPodAutoscaler": r("autoscaling/v2", "1.25"),
  "policy/v1beta1 PodDisruptionBudget": r("policy/v1", "1.25"),
  "autoscaling/v2beta2 HorizontalPodAutoscaler": r("autoscaling/v2", "1.26"),
  "storage.k8s.io/v1beta1 CSIStorageCapacity": r("storage.k8s.io/v1", "1.27"),
};

/** The removal of this built-in apiVersion of `kind`, or undefined when Kubernetes still serves it (or it is not built in). */
function removedApi(apiVersion: string, kind: string): Removal | undefined {
  return REMOVED[`${apiVersion} ${kind}`];
}

/** "autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26: write apiVersion: autoscaling/v2" */
export function removedApiAdvice(apiVersion: string, kind: string): string | undefined {
  const removal = removedApi(apiVersion, kind);
  return removal
    ? `${apiVersion} ${kind} was removed in Kubernetes ${removal.removedIn} (no cluster preview-bot supports serves it): write apiVersion: ${removal.use}`
    : undefined;
}
